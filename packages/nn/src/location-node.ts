/* Folders in Node: a path on disk or an http(s) URL (location.ts). The browser entry has location-browser.ts instead. */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fetchBytes, fetchText, isUrl, joinUrl } from './location';

/** `base` joined with relative parts: path.join for a path, URL resolution for a URL. */
export function joinLocation(base: string, ...parts: string[]): string {
  return isUrl(base) ? joinUrl(base, ...parts) : join(base, ...parts);
}

/** `target` relative to the folder `base` unless it is absolute (a path, or a URL). */
export function resolveLocation(base: string, target: string): string {
  if (isUrl(target)) return target;
  if (isUrl(base)) return joinUrl(base, target);
  return isAbsolute(target) ? target : resolve(base, target);
}

/** UTF-8 text of a file or URL; errors carry Node's `code` (a missing file or a 404: 'ENOENT'). */
export async function readLocationText(location: string): Promise<string> {
  return isUrl(location) ? fetchText(location) : readFile(location, 'utf8');
}

/** The bytes of a file or URL; errors carry Node's `code` (a missing file or a 404: 'ENOENT'). */
export async function readLocationBytes(location: string): Promise<Uint8Array> {
  return isUrl(location) ? fetchBytes(location) : readFile(location);
}
