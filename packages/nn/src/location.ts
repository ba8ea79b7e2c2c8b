/*
 * A folder is a directory on disk or an http(s) URL (a pipeline served over HTTP, read with fetch).
 * What a URL is and how to read one lives here, free of Node's modules, so a web page bundles it; the
 * Node entry (location-node.ts) adds paths, the browser entry (location-browser.ts) refuses them.
 */

/** True for an http(s) URL; anything else is a file-system path. */
export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** `base` + relative parts as a URL: the base is a folder whether or not it ends in '/'. */
export function joinUrl(base: string, ...parts: string[]): string {
  const folder = base.endsWith('/') ? base : `${base}/`;
  return new URL(parts.map((p) => p.replace(/\\/g, '/')).join('/'), folder).href;
}

/** An error shaped like Node's ENOENT, so callers that read a path or a URL handle "missing" in one place. */
function missing(url: string, status: number): Error {
  return Object.assign(new Error(`${url}: HTTP ${status}`), { code: 'ENOENT' });
}

async function fetchOk(url: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw Object.assign(new Error(`${url}: ${(error as Error).message}`), { code: 'EFETCH', cause: error });
  }
  if (response.status === 404 || response.status === 410) throw missing(url, response.status);
  if (!response.ok) throw Object.assign(new Error(`${url}: HTTP ${response.status}`), { code: `HTTP_${response.status}` });
  return response;
}

/** The bytes at a URL; a 404 throws an error whose `code` is 'ENOENT', as Node's readFile does for a path. */
export async function fetchBytes(url: string): Promise<Uint8Array> {
  return new Uint8Array(await (await fetchOk(url)).arrayBuffer());
}

/** The text at a URL (UTF-8); a 404 throws with `code` 'ENOENT'. */
export async function fetchText(url: string): Promise<string> {
  return (await fetchOk(url)).text();
}
