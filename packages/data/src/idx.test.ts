import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { LdmError } from '@ldm/backend';
import { encodeIdx, loadIdx, parseIdx } from './idx';
import { findFashionMnist, loadDataset } from './dataset-spec';

const dir = mkdtempSync(join(tmpdir(), 'ldm-idx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Header bytes written out by hand, as the IDX spec gives them (big-endian). */
function imagesFile(n: number, h: number, w: number, pixel: (i: number) => number): Uint8Array {
  const header = [0, 0, 8, 3, 0, 0, 0, n, 0, 0, 0, h, 0, 0, 0, w];
  return Uint8Array.from([...header, ...Array.from({ length: n * h * w }, (_, i) => pixel(i))]);
}
function labelsFile(labels: number[]): Uint8Array {
  return Uint8Array.from([0, 0, 8, 1, 0, 0, 0, labels.length, ...labels]);
}

function expectLdmError(fn: () => unknown, code: string, pattern: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(LdmError.isInstance(error)).toBe(true);
    expect((error as LdmError).code).toBe(code);
    expect((error as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected an LdmError');
}

describe('IDX files', () => {
  const images = imagesFile(3, 2, 4, (i) => (i * 37) % 256);
  const labels = labelsFile([7, 0, 2]);

  it('reads plain and gzipped files identically, bytes mapped to [-1, 1], labels kept', () => {
    writeFileSync(join(dir, 'img'), images);
    writeFileSync(join(dir, 'lab'), labels);
    writeFileSync(join(dir, 'img.gz'), gzipSync(images));
    writeFileSync(join(dir, 'lab.gz'), gzipSync(labels));
    const plain = loadIdx(join(dir, 'img'), join(dir, 'lab'), { padTo32: false });
    const gz = loadIdx(join(dir, 'img.gz'), join(dir, 'lab.gz'), { padTo32: false });
    expect(plain.shape).toEqual([3, 2, 4, 1]);
    expect(Array.from(plain.labels!)).toEqual([7, 0, 2]);
    expect(plain.numClasses).toBe(8);
    for (let i = 0; i < 24; i++) expect(plain.images[i]).toBeCloseTo(((i * 37) % 256) / 127.5 - 1, 6);
    expect(Array.from(gz.images)).toEqual(Array.from(plain.images));
    expect(Array.from(gz.labels!)).toEqual([7, 0, 2]);
  });

  it('pads images smaller than 32×32 by default, centred, with -1', () => {
    const ds = loadIdx(join(dir, 'img'));
    expect(ds.shape).toEqual([3, 32, 32, 1]);
    // A 2×4 image sits at rows 15..16, columns 14..17.
    expect(ds.images[15 * 32 + 14]).toBeCloseTo(0 / 127.5 - 1, 6);
    expect(ds.images[15 * 32 + 15]).toBeCloseTo(37 / 127.5 - 1, 6);
    expect(ds.images[16 * 32 + 17]).toBeCloseTo(((7 * 37) % 256) / 127.5 - 1, 6);
    const background = Array.from(ds.images.subarray(0, 1024)).filter((v) => v === -1).length;
    expect(background).toBeGreaterThanOrEqual(1024 - 8);
  });

  it('leaves images larger than 32 alone by default, and refuses to pad them when asked', () => {
    writeFileSync(join(dir, 'wide'), encodeIdx(new Uint8Array(2 * 33), [2, 1, 33]));
    expect(loadIdx(join(dir, 'wide')).shape).toEqual([2, 1, 33, 1]);
    expectLdmError(() => loadIdx(join(dir, 'wide'), undefined, { padTo32: true }), 'INVALID_ARGUMENT', /wide: padTo32 asked for, but its images are 1×33/);
  });

  it('encodeIdx writes what parseIdx reads', () => {
    const data = Uint8Array.from({ length: 2 * 3 * 5 }, (_, i) => 255 - i);
    const back = parseIdx(encodeIdx(data, [2, 3, 5]), 'mem', 3);
    expect(back.dims).toEqual([2, 3, 5]);
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });

  it('names the file when the header does not match the length', () => {
    const short = images.slice(0, images.length - 1);
    writeFileSync(join(dir, 'short'), short);
    expectLdmError(() => loadIdx(join(dir, 'short')), 'CORRUPT_FILE', /short: header says 3×2×4 = 24 bytes .* holds 23/);
    const long = Uint8Array.from([...images, 0]);
    writeFileSync(join(dir, 'long.gz'), gzipSync(long));
    expectLdmError(() => loadIdx(join(dir, 'long.gz')), 'CORRUPT_FILE', /long\.gz: .* holds 25/);
  });

  it('rejects a wrong magic number, truncated headers, corrupt gzip, missing files and label-count mismatches', () => {
    writeFileSync(join(dir, 'labels-as-images'), labels);
    expectLdmError(() => loadIdx(join(dir, 'labels-as-images')), 'CORRUPT_FILE', /labels-as-images: IDX magic number is 0x00000801, expected 0x00000803/);
    writeFileSync(join(dir, 'tiny'), Uint8Array.from([0, 0, 8, 3, 0, 0]));
    expectLdmError(() => loadIdx(join(dir, 'tiny')), 'CORRUPT_FILE', /tiny: 6 bytes, too short/);
    writeFileSync(join(dir, 'png-not-idx'), Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]));
    expectLdmError(() => loadIdx(join(dir, 'png-not-idx')), 'CORRUPT_FILE', /png-not-idx: IDX magic number is 0x89504e47/);
    writeFileSync(join(dir, 'bad.gz'), Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    expectLdmError(() => loadIdx(join(dir, 'bad.gz')), 'CORRUPT_FILE', /bad\.gz: gzip data is corrupt/);
    expectLdmError(() => loadIdx(join(dir, 'missing')), 'FILE_NOT_FOUND', /missing: IDX file not found/);
    writeFileSync(join(dir, 'two-labels'), labelsFile([1, 2]));
    expectLdmError(() => loadIdx(join(dir, 'img'), join(dir, 'two-labels')), 'SHAPE_MISMATCH', /two-labels: 2 labels for the 3 images/);
    expectLdmError(() => loadIdx(join(dir, 'img'), join(dir, 'img')), 'CORRUPT_FILE', /img: IDX magic number is 0x00000803, expected 0x00000801/);
  });

  it('loadDataset parses idx:<images>,<labels> specs and rejects unknown ones', async () => {
    const ds = await loadDataset(`idx:${join(dir, 'img.gz')},${join(dir, 'lab.gz')}`, { padTo32: false, limit: 2 });
    expect(ds.shape).toEqual([2, 2, 4, 1]);
    expect(Array.from(ds.labels!)).toEqual([7, 0]);
    await expect(loadDataset('cifar')).rejects.toThrow(/unknown dataset 'cifar': expected one of mnist, fashion-mnist/);
    await expect(loadDataset('fashion-mnist', { fashionMnistDir: join(dir, 'nowhere') })).rejects.toThrow(/apt-get install dataset-fashion-mnist/);
  });

  it.skipIf(findFashionMnist() === undefined)("reads Debian's Fashion-MNIST test split (10,000 images, 1,000 a class)", async () => {
    const ds = await loadDataset('fashion-mnist:test', { padTo32: false });
    expect(ds.shape).toEqual([10000, 28, 28, 1]);
    expect(ds.numClasses).toBe(10);
    const counts = new Array<number>(10).fill(0);
    for (const l of ds.labels!) counts[l]!++;
    expect(counts).toEqual(new Array(10).fill(1000));
  });
});

describe('gzipped IDX: decompressed no further than the header declares', () => {
  it('reads a gzipped file whole', () => {
    const path = join(dir, 'ok-idx3-ubyte.gz');
    writeFileSync(path, gzipSync(imagesFile(3, 4, 4, (i) => i)));
    expect(loadIdx(path, undefined, { padTo32: false }).shape).toEqual([3, 4, 4, 1]);
  });

  it('stops a gzip bomb at the declared size: 64 MB of zeros behind a header of 10 images of 28×28', () => {
    const path = join(dir, 'bomb-idx3-ubyte.gz');
    const header = Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28]);
    writeFileSync(path, gzipSync(Buffer.concat([header, Buffer.alloc(64 << 20)]), { level: 9 }));
    expectLdmError(() => loadIdx(path), 'CORRUPT_FILE', /bomb-idx3-ubyte\.gz: decompresses to more than the 7856 bytes its IDX header declares/);
  });

  it('refuses a header that declares more than it loads (8 000 000 images of 28×28) before inflating it', () => {
    const path = join(dir, 'huge-idx3-ubyte.gz');
    writeFileSync(path, gzipSync(Uint8Array.from([0, 0, 8, 3, 0, 0x7a, 0x12, 0, 0, 0, 0, 28, 0, 0, 0, 28])));
    expectLdmError(() => loadIdx(path), 'BAD_DATA', /huge-idx3-ubyte\.gz: the IDX header declares 6272000000 bytes/);
  });
});
