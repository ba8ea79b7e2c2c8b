import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { crc32, gzipSync } from 'node:zlib';

/** sha256 over every file under `dir` (names and bytes), or 'absent': "nothing existing changed" is this hash before and after. */
export async function hashTree(dir: string): Promise<string> {
  if (!existsSync(dir)) return 'absent';
  const hash = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    const entries = (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const full = join(d, e.name);
      hash.update(`${relative(dir, full)}\0`);
      if (e.isDirectory()) await walk(full);
      else hash.update(await readFile(full));
    }
  };
  await walk(dir);
  return hash.digest('hex');
}

/** Edits a JSON file in place. */
export async function editJson(path: string, edit: (json: Record<string, unknown>) => unknown): Promise<void> {
  const json = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  const out = edit(json);
  await writeFile(path, JSON.stringify(out === undefined ? json : out));
}

/** Sets the first value of the named tensor (or of the first tensor) in a safetensors file to `value`. */
export async function poisonSafetensors(path: string, value: number, tensor?: string): Promise<string> {
  const bytes = await readFile(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const name =
    tensor ??
    Object.keys(header)
      .filter((k) => k !== '__metadata__')
      .sort()[0]!;
  const entry = header[name]!;
  bytes.writeFloatLE(value, 8 + headerLength + entry.data_offsets[0]);
  await writeFile(path, bytes);
  return name;
}

/** A PNG with only a header: `width`×`height` claimed, no pixels (a decoder that trusts it allocates w·h·c bytes). */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', gzipSync(Buffer.alloc(0))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** An IDX header (unsigned bytes) for `dims`, followed by `dataBytes` zero bytes, gzipped. */
export function gzippedIdx(dims: number[], dataBytes: number): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return gzipSync(Buffer.concat([header, Buffer.alloc(dataBytes)]), { level: 9 });
}
