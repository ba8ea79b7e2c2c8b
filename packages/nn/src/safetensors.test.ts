import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator, LdmError } from '@ldm/backend';
import { bf16BitsToFloat, f16BitsToFloat, floatToBf16Bits, floatToF16Bits } from './half-float';
import { parseSafetensors, serializeSafetensors, type TensorRecord } from './safetensors';
import { readSafetensorsFile, writeSafetensorsFile } from './safetensors-file';
import { writeFileAtomic } from '@ldm/backend';
import { VECTORS } from '../../../test/vectors';

const REFERENCE_FILES = ['unet_tiny', 'vae_tiny', 'ddim_loop', 'ddpm_loop'];

interface TensorCheck {
  shape: number[];
  first4: number[];
  sum: number;
}

/** Builds a file from a raw header string and data bytes, bypassing the serializer's checks. */
function rawFile(header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectCorrupt(fn: () => unknown, ...fragments: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(LdmError.isInstance(caught), `expected an LdmError, got ${String(caught)}`).toBe(true);
  const err = caught as LdmError;
  expect(err.code).toBe('CORRUPT_FILE');
  for (const f of fragments) expect(err.message).toContain(f);
}

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

describe('reference files written by the Python safetensors library', () => {
  for (const name of REFERENCE_FILES) {
    it(`${name}: every tensor matches tensor_checks`, async () => {
      const file = await readSafetensorsFile(join(VECTORS, `${name}.safetensors`));
      const json = JSON.parse(await readFile(join(VECTORS, `${name}.json`), 'utf8')) as {
        tensor_checks: Record<string, TensorCheck>;
      };
      const checks = json.tensor_checks;
      expect([...file.tensors.keys()].sort()).toEqual(Object.keys(checks).sort());
      expect(file.metadata.format).toBe('pt');
      for (const [key, check] of Object.entries(checks)) {
        const t = file.tensors.get(key)!;
        expect(t.shape, key).toEqual(check.shape);
        expect(t.dtype).toBe('F32');
        expect(t.data.length).toBe(check.shape.reduce((a, b) => a * b, 1));
        expect(Array.from(t.data.subarray(0, 4)), key).toEqual(check.first4);
        let sum = 0;
        for (const v of t.data) sum += v;
        expect(Math.abs(sum - check.sum), key).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(check.sum)) + 1e-9 * t.data.length);
      }
    });

    it(`${name}: re-serialising reproduces the file byte for byte`, async () => {
      const bytes = new Uint8Array(await readFile(join(VECTORS, `${name}.safetensors`)));
      const file = parseSafetensors(bytes, name);
      const again = serializeSafetensors(file.tensors, file.metadata);
      expect(again.length).toBe(bytes.length);
      expect(Buffer.compare(Buffer.from(again), Buffer.from(bytes))).toBe(0);
    });
  }
});

describe('half-precision decoding', () => {
  const f16Cases: Array<[number, number]> = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3e00, 1.5],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0400, 2 ** -14],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x8001, -(2 ** -24)],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  const bf16Cases: Array<[number, number]> = [
    [0x0000, 0],
    [0x3f80, 1],
    [0xc000, -2],
    [0x3eab, 0.333984375],
    [0x7f7f, 3.3895313892515355e38],
    [0x0080, 2 ** -126],
    [0x0001, 2 ** -133],
    [0x7f80, Infinity],
    [0xff80, -Infinity],
  ];

  it('F16 patterns: normals, subnormals, signed zero, infinities, NaN', () => {
    for (const [bits, value] of f16Cases) expect(f16BitsToFloat(bits), bits.toString(16)).toBe(value);
    expect(Object.is(f16BitsToFloat(0x8000), -0)).toBe(true);
    expect(f16BitsToFloat(0x7e00)).toBeNaN();
    expect(f16BitsToFloat(0xfc01)).toBeNaN();
  });

  it('BF16 patterns: normals, subnormals, signed zero, infinities, NaN', () => {
    for (const [bits, value] of bf16Cases) expect(bf16BitsToFloat(bits), bits.toString(16)).toBe(value);
    expect(Object.is(bf16BitsToFloat(0x8000), -0)).toBe(true);
    expect(bf16BitsToFloat(0x7fc0)).toBeNaN();
    expect(bf16BitsToFloat(0xff81)).toBeNaN();
  });

  it('F16 and BF16 tensors in a file decode to float32', () => {
    const f16 = f16Cases.map(([b]) => b);
    const bf16 = bf16Cases.map(([b]) => b);
    const data = new Uint8Array(2 * (f16.length + bf16.length));
    [...f16, ...bf16].forEach((b, i) => {
      data[2 * i] = b & 0xff;
      data[2 * i + 1] = b >>> 8;
    });
    const header = JSON.stringify({
      a: { dtype: 'F16', shape: [f16.length], data_offsets: [0, 2 * f16.length] },
      b: { dtype: 'BF16', shape: [bf16.length], data_offsets: [2 * f16.length, data.length] },
    });
    const file = parseSafetensors(rawFile(header, data));
    expect(file.tensors.get('a')!.dtype).toBe('F16');
    expect(Array.from(file.tensors.get('a')!.data)).toEqual(f16Cases.map(([, v]) => v));
    expect(file.tensors.get('b')!.dtype).toBe('BF16');
    expect(Array.from(file.tensors.get('b')!.data)).toEqual(bf16Cases.map(([, v]) => v));
  });

  it('encoding inverts decoding for all 65536 patterns of each format', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16BitsToFloat(h);
      if (Number.isNaN(v)) expect(Number.isNaN(f16BitsToFloat(floatToF16Bits(v)))).toBe(true);
      else if (floatToF16Bits(v) !== h) expect(floatToF16Bits(v), `f16 ${h.toString(16)}`).toBe(h);
      const w = bf16BitsToFloat(h);
      if (Number.isNaN(w)) expect(Number.isNaN(bf16BitsToFloat(floatToBf16Bits(w)))).toBe(true);
      else if (floatToBf16Bits(w) !== h) expect(floatToBf16Bits(w), `bf16 ${h.toString(16)}`).toBe(h);
    }
  });

  it('F16 encoding agrees with a float64 rounding reference on 300k float32 bit patterns', () => {
    const roundHalfEven = (q: number) => {
      const f = Math.floor(q);
      return q - f > 0.5 ? f + 1 : q - f < 0.5 ? f : f + (f & 1);
    };
    // Reference: scale to an integer significand in float64 (exact), round there, rebuild the bits.
    const reference = (v: number): number => {
      const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
      const a = Math.abs(v);
      if (Number.isNaN(a)) return 0x7e00 | sign;
      if (a >= 65520) return sign | 0x7c00;
      if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24);
      let e = Math.floor(Math.log2(a));
      if (2 ** e > a) e -= 1;
      if (2 ** (e + 1) <= a) e += 1;
      let r = roundHalfEven(a * 2 ** (10 - e));
      if (r === 2048) {
        r = 1024;
        e += 1;
      }
      return sign | ((e + 15) << 10) | (r - 1024);
    };
    const g = new Generator(99);
    const bits = g.uint32(300_000);
    const asFloat = new Float32Array(bits.buffer);
    // Half of the patterns moved into the binary16 range (|x| < 2^17), where rounding decisions happen.
    for (let i = 0; i < bits.length; i += 2) bits[i] = (bits[i]! & 0x80000000) | (0x33000000 + (bits[i]! % (0x48000000 - 0x33000000)));
    for (let i = 0; i < asFloat.length; i++) {
      const v = asFloat[i]!;
      if (Number.isNaN(v)) continue;
      const got = floatToF16Bits(v);
      if (got !== reference(v)) expect(got, `${v} (0x${bits[i]!.toString(16)})`).toBe(reference(v));
    }
  });

  it('encoding rounds to nearest, ties to even', () => {
    expect(floatToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, down to even
    expect(floatToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, up to even
    expect(floatToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(floatToF16Bits(65519)).toBe(0x7bff);
    expect(floatToF16Bits(65520)).toBe(0x7c00);
    expect(floatToF16Bits(-1e9)).toBe(0xfc00);
    expect(floatToF16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal
    expect(floatToF16Bits(3 * 2 ** -25)).toBe(0x0002);
    expect(floatToF16Bits(2 ** -14 - 2 ** -26)).toBe(0x0400); // rounds up into the normals
    expect(floatToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(floatToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(floatToBf16Bits(3.4e38)).toBe(0x7f80); // above bf16's largest finite, rounds to inf
  });
});

describe('serialize → parse', () => {
  it('round-trips F32 bit-exactly, with NaN payloads, -0, empty and scalar tensors, odd names', () => {
    const g = new Generator(7);
    const special = new Float32Array([0, -0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38]);
    const nanWithPayload = new Float32Array(new Uint32Array([0x7fc00001, 0xffbfffff]).buffer);
    const tensors = new Map<string, TensorRecord>([
      ['weights.0', { shape: [3, 4, 5], data: g.normal(60) }],
      ['special', { shape: [6], data: special }],
      ['nan', { shape: [2], data: nanWithPayload }],
      ['empty', { shape: [0, 3], data: new Float32Array(0) }],
      ['scalar', { shape: [], data: new Float32Array([42]) }],
      ['0', { shape: [1], data: new Float32Array([1]) }],
      ['__proto__', { shape: [1], data: new Float32Array([2]) }],
      ['ünïcødé.🙂', { shape: [2, 1], data: g.normal(2) }],
    ]);
    const metadata = { format: 'pt', note: 'quote " backslash \\ newline \n', __proto__x: 'y' };
    const bytes = serializeSafetensors(tensors, metadata);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const back = parseSafetensors(bytes);
    expect(back.metadata).toEqual(metadata);
    expect(new Set(back.tensors.keys())).toEqual(new Set(tensors.keys()));
    for (const [k, t] of tensors) {
      const r = back.tensors.get(k)!;
      expect(r.shape).toEqual(t.shape);
      expect(Array.from(bitsOf(r.data))).toEqual(Array.from(bitsOf(t.data)));
    }
    // Decoded arrays must not alias the input bytes.
    back.tensors.get('special')!.data[0] = 99;
    expect(parseSafetensors(bytes).tensors.get('special')!.data[0]).toBe(0);
  });

  it('writes F16/BF16 when asked: values come back rounded as the codec rounds them', () => {
    const data = new Generator(3).normal(257).map((x) => x * 1000);
    for (const dtype of ['F16', 'BF16'] as const) {
      const bytes = serializeSafetensors(new Map([['x', { shape: [257], data, dtype }]]));
      const back = parseSafetensors(bytes).tensors.get('x')!;
      expect(back.dtype).toBe(dtype);
      const [enc, dec] = dtype === 'F16' ? [floatToF16Bits, f16BitsToFloat] : [floatToBf16Bits, bf16BitsToFloat];
      expect(Array.from(back.data)).toEqual(Array.from(data, (v) => Math.fround(dec(enc(v)))));
      expect(bytes.length - 8 - Number(new DataView(bytes.buffer).getBigUint64(0, true))).toBe(2 * 257);
    }
  });

  it('refuses inconsistent input with a typed error', () => {
    const bad =
      (t: TensorRecord, name = 'x') =>
      () =>
        serializeSafetensors(new Map([[name, t]]));
    expect(bad({ shape: [2, 2], data: new Float32Array(3) })).toThrow(/'x'.*4 elements.*3/);
    expect(bad({ shape: [-1], data: new Float32Array(0) })).toThrow(LdmError);
    expect(bad({ shape: [1], data: new Float32Array(1) }, '__metadata__')).toThrow(/reserved/);
  });
});

describe('validation of malformed files', () => {
  const ok = (offsets: [number, number], extra = '') => `{"a":{"dtype":"F32","shape":[2],"data_offsets":[${offsets.join(',')}]}${extra}}`;
  const eight = new Uint8Array(8);

  it('decodes escaped names, skips unknown fields, accepts trailing spaces and null metadata', () => {
    const header = '{"__metadata__":null,"\\u00e9\\n\\"q":{"extra":{"x":[1,-2.5e3,true,null,"s",{}]},"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   ';
    const file = parseSafetensors(rawFile(header, eight));
    expect([...file.tensors.keys()]).toEqual(['é\n"q']);
    expect(file.metadata).toEqual({});
  });

  it('hostile headers fail fast without building what they describe', () => {
    const mb = 4_000_000;
    const cases = [
      `{"a":{"dtype":"F32","shape":${'['.repeat(mb)}`,
      `{"a":{"dtype":"F32","extra":${'['.repeat(mb)}`,
      `{"a":{"dtype":"F32","shape":[${'[],'.repeat(mb / 3)}[]]}}`,
      `{"a":{"dtype":"F32","shape":[${'1,'.repeat(mb / 2)}1],"data_offsets":[0,4]}}`,
      `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,${'9'.repeat(mb)}]}}`,
      `{"${'x'.repeat(mb)}`,
    ];
    for (const header of cases) {
      const bytes = rawFile(header, new Uint8Array(4));
      const t0 = performance.now();
      expectCorrupt(() => parseSafetensors(bytes));
      // JSON.parse needs seconds and hundreds of MB for the first three; a linear scan needs milliseconds.
      expect(performance.now() - t0, header.slice(0, 40)).toBeLessThan(1500);
    }
  });

  it('accepts the minimal valid file, and an empty one', () => {
    expect(parseSafetensors(rawFile(ok([0, 8]), eight)).tensors.get('a')!.shape).toEqual([2]);
    expect(parseSafetensors(rawFile('{}')).tensors.size).toBe(0);
  });

  it('names the source and the problem', () => {
    expectCorrupt(() => parseSafetensors(new Uint8Array(5), 'model.safetensors'), 'model.safetensors', 'shorter than');
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
    expectCorrupt(() => parseSafetensors(huge, 'h.st'), 'h.st', 'exceeds');
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8]), eight).subarray(0, 20), 't.st'), 't.st', 'past the end');
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8]), eight).subarray(0, 66)), "'a'", 'run past');
    expectCorrupt(() => parseSafetensors(rawFile('[1,2]')), 'JSON object');
    expectCorrupt(() => parseSafetensors(rawFile('{"a":')), 'bad header', "'a'");
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8]).replace('F32', 'I64'), eight)), 'I64', 'not supported');
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8]).replace('F32', 'Q9'), eight)), 'unknown dtype');
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 4]), eight)), "'a'", 'needs 8 bytes');
    expectCorrupt(() => parseSafetensors(rawFile(ok([8, 0]), eight)), 'begin > end');
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8]).replace('[2]', '[2.5]'), eight)), 'fraction');
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8]).replace('[2]', '[-2]'), eight)), 'negative number');
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8]).replace('[2]', '[4294967296,4294967296,4294967296]'), eight)), 'more than the file holds');
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8], ',"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}'), new Uint8Array(12))), 'overlaps');
    expectCorrupt(() => parseSafetensors(rawFile(ok([4, 12]), new Uint8Array(12))), 'belong to no tensor');
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8]), new Uint8Array(12))), 'data section holds 12');
    expectCorrupt(() => parseSafetensors(rawFile('{"__metadata__":{"a":1}}')), 'must be a string');
    expectCorrupt(() => parseSafetensors(rawFile(`${ok([0, 8])}${ok([0, 8]).slice(1, -1)}`, eight)), 'bad header');
    expectCorrupt(() => parseSafetensors(rawFile(`{${ok([0, 8]).slice(1, -1)},${ok([0, 8]).slice(1, -1)}}`, eight)), "duplicate tensor name 'a'");
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8]).replace('[2]', '[2.0]'), eight)), 'fraction');
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8]).replace('[2]', '[2e0]'), eight)), 'exponent');
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8]).replace('[2]', '[02]'), eight)), 'leading zero');
    expectCorrupt(() => parseSafetensors(rawFile(ok([0, 8]).replace('"dtype":"F32",', ''), eight)), "'dtype' is missing");
    const badUtf8 = rawFile('{"a":1}   ');
    badUtf8[10] = 0xff;
    expectCorrupt(() => parseSafetensors(badUtf8), 'UTF-8');
  });
});

describe('files on disk', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ldm-safetensors-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes atomically, overwrites, leaves no temporary files, reads back', async () => {
    const path = join(dir, 'model.safetensors');
    const a = new Map([['w', { shape: [2], data: new Float32Array([1, 2]) }]]);
    const b = new Map([['w', { shape: [3], data: new Float32Array([3, 4, 5]) }]]);
    await writeSafetensorsFile(path, a, { step: '1' });
    await writeSafetensorsFile(path, b, { step: '2' });
    const back = await readSafetensorsFile(path);
    expect(back.metadata).toEqual({ step: '2' });
    expect(Array.from(back.tensors.get('w')!.data)).toEqual([3, 4, 5]);
    expect(await readdir(dir)).toEqual(['model.safetensors']);
    await writeFileAtomic(join(dir, 'note.txt'), 'hello');
    expect(await readFile(join(dir, 'note.txt'), 'utf8')).toBe('hello');
  });

  it('a failed write leaves the target and the directory as they were', async () => {
    const sub = join(dir, 'failing');
    await mkdir(join(sub, 'target.safetensors'), { recursive: true });
    await expect(writeFileAtomic(join(sub, 'target.safetensors'), 'data')).rejects.toSatisfy((e: unknown) => LdmError.isInstance(e));
    expect(await readdir(sub)).toEqual(['target.safetensors']);
  });

  it('missing files and directories give FILE_NOT_FOUND naming the path; corrupt ones CORRUPT_FILE', async () => {
    const missing = join(dir, 'nope.safetensors');
    await expect(readSafetensorsFile(missing)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: expect.stringContaining(missing) });
    await expect(readSafetensorsFile(dir)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    const target = join(dir, 'no-such-dir', 'x.safetensors');
    await expect(writeSafetensorsFile(target, new Map())).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: expect.stringContaining(target) });
    const corruptPath = join(dir, 'corrupt.safetensors');
    await writeFile(corruptPath, 'not a checkpoint at all');
    await expect(readSafetensorsFile(corruptPath)).rejects.toMatchObject({ code: 'CORRUPT_FILE', message: expect.stringContaining(corruptPath) });
  });
});
