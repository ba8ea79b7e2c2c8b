/**
 * A parser for exactly the JSON a safetensors header may hold, working on the bytes.
 * `JSON.parse` would build whatever the file describes: 100 MB of `[[[[…` or of `[],[],…` costs
 * minutes and gigabytes before any check runs. This parser only builds what a header contains
 * (names, dtype strings, short integer arrays, a string map), so time and memory stay linear in the
 * header with a small constant, and it reports what is wrong in safetensors' terms.
 */

export interface RawHeaderEntry {
  name: string;
  dtype: string | undefined;
  shape: number[] | undefined;
  dataOffsets: number[] | undefined;
}

export interface RawHeader {
  metadata: Record<string, string>;
  entries: RawHeaderEntry[];
}

/** Above this a shape is refused: no real tensor has a thousand dimensions, and it bounds the array built. */
export const MAX_RANK = 1024;
/** Unknown fields inside an entry are skipped, as the reference reader ignores them, up to this nesting. */
const MAX_SKIP_DEPTH = 32;
export const METADATA_KEY = '__metadata__';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class HeaderSyntaxError extends Error {}

function isNumberByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

class HeaderReader {
  private pos: number;
  private readonly start: number;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly bytes: Uint8Array,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
    this.start = start;
  }

  fail(problem: string): never {
    throw new HeaderSyntaxError(`${problem} (at header byte ${this.pos - this.start})`);
  }

  ws(): void {
    const b = this.bytes;
    while (this.pos < this.end) {
      const c = b[this.pos]!;
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.pos++;
    }
  }

  peek(): number {
    return this.pos < this.end ? this.bytes[this.pos]! : -1;
  }

  expect(ch: string, context: string): void {
    this.ws();
    if (this.peek() !== ch.charCodeAt(0)) this.fail(`expected '${ch}' ${context}`);
    this.pos++;
  }

  /** Consumes ',' (returns true) or the closing bracket (returns false). */
  more(close: string, context: string): boolean {
    this.ws();
    const c = this.peek();
    this.pos++;
    if (c === 0x2c) return true;
    if (c === close.charCodeAt(0)) return false;
    this.pos--;
    return this.fail(`expected ',' or '${close}' ${context}`);
  }

  /** Opens a container; returns false (and consumes the closer) when it is empty. */
  open(openCh: string, closeCh: string, context: string): boolean {
    this.expect(openCh, context);
    this.ws();
    if (this.peek() === closeCh.charCodeAt(0)) {
      this.pos++;
      return false;
    }
    return true;
  }

  string(context: string): string {
    this.ws();
    if (this.peek() !== QUOTE) this.fail(`expected a string ${context}`);
    const start = ++this.pos;
    let escaped = false;
    const b = this.bytes;
    for (;;) {
      if (this.pos >= this.end) this.fail(`unterminated string ${context}`);
      const c = b[this.pos]!;
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        this.pos += 2;
        continue;
      }
      if (c < 0x20) this.fail(`control character in a string ${context}`);
      this.pos++;
    }
    let text = '';
    let ascii = this.pos - start <= 256;
    // Short ASCII strings (every name and dtype in practice) are built directly: TextDecoder's per-call cost dominates otherwise.
    for (let i = start; ascii && i < this.pos; i++) {
      const c = b[i]!;
      if (c >= 0x80) ascii = false;
      else text += String.fromCharCode(c);
    }
    if (!ascii) {
      try {
        text = this.decoder.decode(b.subarray(start, this.pos));
      } catch {
        return this.fail(`invalid UTF-8 in a string ${context}`);
      }
    }
    this.pos++;
    if (!escaped) return text;
    try {
      // A lone string literal: JSON.parse resolves the escapes and cannot build anything else.
      return JSON.parse(`"${text}"`) as string;
    } catch {
      return this.fail(`invalid escape in a string ${context}`);
    }
  }

  /** A non-negative integer that is exact in float64, in plain digits (as Rust's usize accepts). */
  integer(context: string): number {
    this.ws();
    const b = this.bytes;
    const start = this.pos;
    if (this.peek() === 0x2d) this.fail(`negative number ${context}`);
    let value = 0;
    while (this.pos < this.end && b[this.pos]! >= 0x30 && b[this.pos]! <= 0x39) {
      value = value * 10 + (b[this.pos]! - 0x30);
      this.pos++;
      if (this.pos - start > 16) this.fail(`number too large ${context}`);
    }
    const digits = this.pos - start;
    if (digits === 0) this.fail(`expected a non-negative integer ${context}`);
    if (digits > 1 && b[start] === 0x30) this.fail(`number with a leading zero ${context}`);
    const c = this.peek();
    if (c === 0x2e || c === 0x65 || c === 0x45) this.fail(`expected an integer, got a fraction or exponent ${context}`);
    if (!Number.isSafeInteger(value)) this.fail(`number too large ${context}`);
    return value;
  }

  integerArray(maxLength: number, context: string): number[] {
    const out: number[] = [];
    if (!this.open('[', ']', `to open ${context}`)) return out;
    do {
      if (out.length >= maxLength) this.fail(`more than ${maxLength} elements in ${context}`);
      out.push(this.integer(`in ${context}`));
    } while (this.more(']', `in ${context}`));
    return out;
  }

  literal(word: string): boolean {
    for (let i = 0; i < word.length; i++) if (this.bytes[this.pos + i] !== word.charCodeAt(i) || this.pos + i >= this.end) return false;
    this.pos += word.length;
    return true;
  }

  /** Skips any JSON value without building it, refusing nesting deeper than MAX_SKIP_DEPTH. */
  skipValue(depth: number, context: string): void {
    if (depth > MAX_SKIP_DEPTH) this.fail(`nested deeper than ${MAX_SKIP_DEPTH} levels ${context}`);
    this.ws();
    const c = this.peek();
    if (c === QUOTE) {
      this.string(context);
    } else if (c === 0x7b) {
      if (this.open('{', '}', context)) {
        do {
          this.string(context);
          this.expect(':', context);
          this.skipValue(depth + 1, context);
        } while (this.more('}', context));
      }
    } else if (c === 0x5b) {
      if (this.open('[', ']', context)) {
        do this.skipValue(depth + 1, context);
        while (this.more(']', context));
      }
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      // JSON number: -?int frac? exp?, checked loosely but consumed exactly.
      const b = this.bytes;
      const start = this.pos;
      if (c === 0x2d) this.pos++;
      while (this.pos < this.end && isNumberByte(b[this.pos]!)) this.pos++;
      if (!/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(new TextDecoder().decode(b.subarray(start, this.pos)))) {
        this.fail(`malformed number ${context}`);
      }
    } else if (!(this.literal('true') || this.literal('false') || this.literal('null'))) {
      this.fail(`expected a JSON value ${context}`);
    }
  }

  metadata(): Record<string, string> {
    const out: Record<string, string> = {};
    this.ws();
    if (this.literal('null')) return out;
    if (this.peek() !== 0x7b) this.fail(`'${METADATA_KEY}' must be an object of strings`);
    if (!this.open('{', '}', `to open '${METADATA_KEY}'`)) return out;
    do {
      const key = this.string(`as a key of '${METADATA_KEY}'`);
      this.expect(':', `after '${METADATA_KEY}.${key}'`);
      this.ws();
      if (this.peek() !== QUOTE) this.fail(`'${METADATA_KEY}.${key}' must be a string`);
      if (Object.hasOwn(out, key)) this.fail(`duplicate key '${METADATA_KEY}.${key}'`);
      const value = this.string(`as the value of '${METADATA_KEY}.${key}'`);
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    } while (this.more('}', `in '${METADATA_KEY}'`));
    return out;
  }

  entry(name: string): RawHeaderEntry {
    const where = `tensor '${name}'`;
    const entry: RawHeaderEntry = { name, dtype: undefined, shape: undefined, dataOffsets: undefined };
    this.ws();
    if (this.peek() !== 0x7b) this.fail(`${where}: entry is not an object`);
    if (!this.open('{', '}', `for ${where}`)) return entry;
    const seen = new Set<string>();
    do {
      const field = this.string(`as a field name of ${where}`);
      this.expect(':', `after ${where}.${field}`);
      if (seen.has(field)) this.fail(`${where}: duplicate field '${field}'`);
      seen.add(field);
      this.ws();
      if (field === 'dtype') {
        if (this.peek() !== QUOTE) this.fail(`${where}: 'dtype' is not a string`);
        entry.dtype = this.string(`in ${where}.dtype`);
      } else if (field === 'shape') {
        if (this.peek() !== 0x5b) this.fail(`${where}: 'shape' must be an array of non-negative integers`);
        entry.shape = this.integerArray(MAX_RANK, `${where}.shape`);
      } else if (field === 'data_offsets') {
        if (this.peek() !== 0x5b) this.fail(`${where}: 'data_offsets' must be two non-negative integers [begin, end]`);
        entry.dataOffsets = this.integerArray(2, `${where}.data_offsets`);
      } else {
        this.skipValue(0, `in ${where}.${field}`);
      }
    } while (this.more('}', `in ${where}`));
    return entry;
  }

  header(): RawHeader {
    let metadata: Record<string, string> | undefined;
    const entries: RawHeaderEntry[] = [];
    const names = new Set<string>();
    if (this.open('{', '}', 'at the start of the header')) {
      do {
        const name = this.string('as a tensor name');
        this.expect(':', `after '${name}'`);
        if (name === METADATA_KEY) {
          if (metadata) this.fail(`duplicate '${METADATA_KEY}'`);
          metadata = this.metadata();
        } else {
          if (names.has(name)) this.fail(`duplicate tensor name '${name}'`);
          names.add(name);
          entries.push(this.entry(name));
        }
      } while (this.more('}', 'between header entries'));
    }
    this.ws();
    if (this.pos !== this.end) this.fail('unexpected bytes after the header object');
    return { metadata: metadata ?? {}, entries };
  }
}

/** Parses the header held in bytes [start, end). Throws HeaderSyntaxError with a message naming the problem. */
export function readSafetensorsHeader(bytes: Uint8Array, start: number, end: number): RawHeader {
  return new HeaderReader(bytes, start, end).header();
}
