/*
 * Which file a URL path names inside the folder `ldm serve` was given, or none (the server answers
 * 404). The raw path is checked, not a normalised one: a `..` segment, encoded or not, is refused
 * rather than resolved, as are absolute paths, backslashes, NUL, hidden names (lock and temporary
 * files) and anything whose real path (symlinks followed) leaves the folder.
 */
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';

/** The segments of a raw URL path (percent-encoded, no query) if every one is a plain name; else undefined. */
export function safeSegments(rawPath: string): string[] | undefined {
  if (rawPath === '' || rawPath.includes('\\')) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/');
  // '' refuses absolute paths ('/etc/passwd', '//x') and empty segments; '.' prefixes refuse '.', '..', '.ldm.lock'.
  if (segments.some((s) => s === '' || s.startsWith('.') || /^[A-Za-z]:$/.test(s))) return undefined;
  return segments;
}

/** A regular file inside `root` (after symlinks) named by the raw URL path `rawPath` (relative to root), or undefined. */
export async function resolveInside(root: string, rawPath: string): Promise<string | undefined> {
  const segments = safeSegments(rawPath);
  if (!segments) return undefined;
  let realRoot: string;
  let real: string;
  try {
    realRoot = await realpath(root);
    real = await realpath(join(realRoot, ...segments));
  } catch {
    return undefined;
  }
  if (!real.startsWith(realRoot + sep)) return undefined;
  const info = await stat(real).catch(() => null);
  return info?.isFile() ? real : undefined;
}
