/* Folders in a web page: http(s) URLs only (a page has no file system). Same names as location-node.ts. */
import { LdmError } from '@ldm/backend';
import { fetchBytes, fetchText, isUrl, joinUrl } from './location';

function urlOnly(location: string): string {
  if (!isUrl(location))
    throw new LdmError('INVALID_ARGUMENT', `${location}: in a browser a folder is an http(s) URL (e.g. new URL('model/', location.href).href)`);
  return location;
}

export function joinLocation(base: string, ...parts: string[]): string {
  return joinUrl(urlOnly(base), ...parts);
}

export function resolveLocation(base: string, target: string): string {
  return isUrl(target) ? target : joinUrl(urlOnly(base), target);
}

export async function readLocationText(location: string): Promise<string> {
  return fetchText(urlOnly(location));
}

export async function readLocationBytes(location: string): Promise<Uint8Array> {
  return fetchBytes(urlOnly(location));
}
