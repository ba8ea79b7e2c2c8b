import { describe, expect, it } from 'vitest';
import { Generator, LdmError } from '@ldm/backend';
import { parseSafetensors, serializeSafetensors, type SafetensorsDtype, type SafetensorsFile, type TensorRecord } from './safetensors';

/**
 * Every input, however hostile, must end in a parse that passes validation or an LdmError
 * CORRUPT_FILE: never another exception, a hang or a large allocation. Seeded, so a failure
 * reproduces; the failing case's index and kind are in the assertion message.
 */

const CASES_PER_KIND = 300;
// Cases take about 1 ms; the bound only has to separate "fast" from "hangs", with room for GC pauses on a loaded machine.
const MAX_MS_PER_CASE = 500;

const DTYPES: SafetensorsDtype[] = ['F32', 'F16', 'BF16'];

function baseFile(g: Generator): Uint8Array {
  const tensors = new Map<string, TensorRecord>();
  const count = 1 + g.int(4);
  for (let i = 0; i < count; i++) {
    const shape = Array.from({ length: g.int(4) }, () => g.int(4));
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(`t${i}.w`, { shape, data: g.normal(n), dtype: DTYPES[g.int(3)]! });
  }
  return serializeSafetensors(tensors, g.int(2) ? { format: 'pt' } : undefined);
}

function headerOf(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  return { header, data: bytes.subarray(8 + n) };
}

function withHeader(headerText: string, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const WEIRD_VALUES: unknown[] = [
  -1,
  0,
  1,
  3,
  7,
  1.5,
  -0.5,
  1e300,
  -1e300,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 64,
  4294967296,
  'abc',
  '8',
  null,
  true,
  [],
  {},
  [1, 2],
  [[1]],
];

function pick<T>(g: Generator, xs: readonly T[]): T {
  return xs[g.int(xs.length)]!;
}

/** Edits one field of one entry of a valid header: the cases the validator must catch by reasoning, not by luck. */
function editHeader(g: Generator, bytes: Uint8Array): Uint8Array {
  const { header, data } = headerOf(bytes);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = pick(g, names);
  const entry = header[name] as Record<string, unknown>;
  const offsets = entry.data_offsets as [number, number];
  switch (g.int(12)) {
    case 0:
      entry.dtype = pick(g, ['F64', 'I64', 'U8', 'BOOL', 'f32', '', 'F8_E4M3', 7, null]);
      break;
    case 1:
      entry.shape = pick(g, [[-1], [1.5], ['2'], [2 ** 31, 2 ** 31, 2 ** 31], [2 ** 53, 0], [0, 2 ** 60], [1e308, 1e308], 'x', null, [[2]]]);
      break;
    case 2:
      (entry.shape as unknown[]).push(pick(g, WEIRD_VALUES));
      break;
    case 3:
      entry.data_offsets = [pick(g, WEIRD_VALUES), offsets[1]];
      break;
    case 4:
      entry.data_offsets = [offsets[0], pick(g, WEIRD_VALUES)];
      break;
    case 5:
      entry.data_offsets = [offsets[1], offsets[0]];
      break;
    case 6: {
      // Overlap: point this tensor at another tensor's bytes.
      const other = header[pick(g, names)] as Record<string, unknown>;
      entry.data_offsets = [...(other.data_offsets as number[])];
      break;
    }
    case 7:
      entry.data_offsets = [offsets[0] + 1, offsets[1] + 1];
      break;
    case 8:
      delete entry[pick(g, ['dtype', 'shape', 'data_offsets'])];
      break;
    case 9:
      header[name] = pick(g, WEIRD_VALUES);
      break;
    case 10:
      header.__metadata__ = pick(g, [{ a: 1 }, { a: null }, [], 'x', 5, { b: { c: 'd' } }, null]);
      break;
    default:
      entry.data_offsets = pick(g, [[0], [0, 1, 2], null, 'x', [offsets[0], 2 ** 64]]);
  }
  return withHeader(JSON.stringify(header), data);
}

function flipBits(g: Generator, bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const flips = 1 + g.int(8);
  // Bias half the flips into the length field and the header, where structure lives.
  const headerEnd = Math.min(out.length, 8 + Number(new DataView(out.buffer).getBigUint64(0, true)));
  for (let i = 0; i < flips; i++) {
    const at = g.int(2) ? g.int(headerEnd) : g.int(out.length);
    out[at]! ^= 1 << g.int(8);
  }
  return out;
}

function setLength(g: Generator, bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const n = Number(new DataView(out.buffer).getBigUint64(0, true));
  const value = pick(g, [
    0n,
    1n,
    2n,
    BigInt(n - 1),
    BigInt(n + 1),
    BigInt(out.length - 8),
    BigInt(out.length),
    100_000_001n,
    2n ** 32n,
    2n ** 63n,
    2n ** 64n - 1n,
  ]);
  new DataView(out.buffer).setBigUint64(0, value, true);
  return out;
}

function randomFile(g: Generator): Uint8Array {
  const len = g.int(200);
  const out = new Uint8Array(len);
  const u = g.uint32(len);
  for (let i = 0; i < len; i++) out[i] = u[i]! & 0xff;
  if (len >= 8 && g.int(2)) new DataView(out.buffer).setBigUint64(0, BigInt(g.int(len)), true);
  if (len >= 9 && g.int(2)) out[8] = 0x7b;
  return out;
}

/** A parse that succeeded must describe a file that really is consistent: check it independently of the parser. */
function checkValid(file: SafetensorsFile, bytes: Uint8Array): void {
  for (const [name, t] of file.tensors) {
    expect(t.data.length, name).toBe(t.shape.reduce((a, b) => a * b, 1));
    expect(DTYPES).toContain(t.dtype);
  }
  for (const v of Object.values(file.metadata)) expect(typeof v).toBe('string');
  // Re-writing the parsed content and parsing it again gives the same tensors.
  const again = parseSafetensors(serializeSafetensors(file.tensors, file.metadata));
  expect(again.tensors.size).toBe(file.tensors.size);
  let total = 0;
  for (const t of file.tensors.values()) total += t.data.length * (t.dtype === 'F32' ? 4 : 2);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  expect(total).toBe(bytes.length - 8 - n);
  // The accepted offsets must tile the data section: no overlap, no gap.
  const { header } = headerOf(bytes);
  const spans = Object.entries(header)
    .filter(([k]) => k !== '__metadata__')
    .map(([, e]) => (e as { data_offsets: [number, number] }).data_offsets)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cursor = 0;
  for (const [begin, end] of spans) {
    expect(begin).toBe(cursor);
    cursor = end;
  }
  expect(cursor).toBe(total);
}

/** Inserts, deletes or replaces JSON-significant characters in the header text: exercises every syntax path of the scanner. */
function editSyntax(g: Generator, bytes: Uint8Array): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  let text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  const alphabet = ['[', ']', '{', '}', ',', ':', '"', '\\', '-', '.', 'e', '0', '9', ' ', 'n', 'u', '\u00e9', '\u0001'];
  const edits = 1 + g.int(3);
  for (let i = 0; i < edits; i++) {
    const at = g.int(text.length + 1);
    const ch = pick(g, alphabet);
    const op = g.int(3);
    text = op === 0 ? text.slice(0, at) + ch + text.slice(at) : op === 1 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + ch + text.slice(at + 1);
  }
  return withHeader(text, bytes.subarray(8 + n));
}

type Kind = 'bit flips' | 'truncation' | 'header length' | 'header edit' | 'header syntax' | 'random bytes';

function makeCase(kind: Kind, g: Generator): Uint8Array {
  switch (kind) {
    case 'bit flips':
      return flipBits(g, baseFile(g));
    case 'truncation': {
      const b = baseFile(g);
      return b.subarray(0, g.int(b.length));
    }
    case 'header length':
      return setLength(g, baseFile(g));
    case 'header edit':
      return editHeader(g, baseFile(g));
    case 'header syntax':
      return editSyntax(g, baseFile(g));
    case 'random bytes':
      return randomFile(g);
  }
}

describe('safetensors parser under fuzzing', () => {
  const kinds: Kind[] = ['bit flips', 'truncation', 'header length', 'header edit', 'header syntax', 'random bytes'];
  for (const kind of kinds) {
    it(`${kind}: ${CASES_PER_KIND} cases end in a valid parse or CORRUPT_FILE`, () => {
      const g = new Generator(20261128).split(kind);
      let parsed = 0;
      let refused = 0;
      for (let i = 0; i < CASES_PER_KIND; i++) {
        const bytes = makeCase(kind, g);
        const t0 = performance.now();
        let outcome: SafetensorsFile | undefined;
        try {
          outcome = parseSafetensors(bytes, `case-${i}`);
        } catch (e) {
          if (!LdmError.isInstance(e)) throw new Error(`${kind} case ${i}: non-LdmError ${String(e)}`);
          expect(e.code, `${kind} case ${i}`).toBe('CORRUPT_FILE');
          expect(e.message, `${kind} case ${i}`).toContain(`case-${i}`);
          refused++;
        }
        expect(performance.now() - t0, `${kind} case ${i} took too long`).toBeLessThan(MAX_MS_PER_CASE);
        if (outcome) {
          checkValid(outcome, bytes);
          parsed++;
        }
      }
      // Each kind must actually exercise the error paths (and, where mutations can be harmless, the success path).
      expect(refused, kind).toBeGreaterThan(CASES_PER_KIND / 10);
      expect(parsed + refused).toBe(CASES_PER_KIND);
    });
  }
});
