import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { LdmError } from '@ldm/backend/errors';
import type { LdmErrorCode } from '@ldm/backend/errors';

/*
 * Checks for command-line options, run by yargs while it parses (`coerce`), so a wrong option is
 * answered before any command loads tfjs. Each names the option, or the --config file and key it
 * came from, and what was expected, on one line.
 */

/** What the parse is looking at: the command line and the --config file, to say where a value came from. */
const source: { argv: readonly string[]; config?: { path: string; keys: ReadonlySet<string> } } = { argv: [] };

export function setParseSource(argv: readonly string[]): void {
  source.argv = argv;
  delete source.config;
}

function onCommandLine(option: string): boolean {
  const flag = option.length === 1 ? `-${option}` : `--${option}`;
  return source.argv.some((a) => a === flag || a.startsWith(`${flag}=`));
}

/** Whether the user gave `option` (on the command line or in the --config file), rather than its default. */
export function givenExplicitly(option: string): boolean {
  const camel = option.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return onCommandLine(option) || Boolean(source.config && (source.config.keys.has(option) || source.config.keys.has(camel)));
}

/** Positional arguments, named `<dir>` rather than `--dir`. */
const POSITIONALS = new Set(['dir']);

/** `--steps`, or `run.json: "steps"` when the value came from the --config file. */
export function optionName(option: string): string {
  if (POSITIONALS.has(option)) return `<${option}>`;
  const camel = option.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  if (source.config && !onCommandLine(option) && (source.config.keys.has(option) || source.config.keys.has(camel))) {
    return `${source.config.path}: "${option}"`;
  }
  return option.length === 1 ? `-${option}` : `--${option}`;
}

function show(value: unknown): string {
  if (Array.isArray(value)) return `${value.length} values (${value.map((v) => JSON.stringify(v)).join(', ')}): give it once`;
  if (typeof value === 'number' && Number.isNaN(value)) return 'something that is not a number';
  return JSON.stringify(value) ?? String(value);
}

function fail(option: string, message: string, code: LdmErrorCode = 'INVALID_ARGUMENT'): never {
  throw new LdmError(code, `${optionName(option)}: ${message}`);
}

/** A yargs `coerce` that checks the value against a zod schema. */
export function checked<S extends z.ZodType>(option: string, schema: S): (value: unknown) => z.output<S> {
  return (value) => {
    const result = schema.safeParse(value);
    if (!result.success) fail(option, `${result.error.issues[0]!.message}, got ${show(value)}`);
    return result.data;
  };
}

/** An integer in [min, max]. */
export function int(option: string, min: number, max: number) {
  const expected = `expected an integer in ${min}..${max}`;
  return checked(option, z.number(expected).int(expected).min(min, expected).max(max, expected));
}

/** A finite number in [min, max] (or (min, max] with `above`). */
export function num(option: string, bounds: { min?: number; max?: number; above?: number }) {
  const range = [
    bounds.above !== undefined ? `> ${bounds.above}` : bounds.min !== undefined ? `≥ ${bounds.min}` : '',
    bounds.max !== undefined ? `≤ ${bounds.max}` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  const expected = `expected a finite number${range ? ` ${range}` : ''}`;
  let schema = z.number(expected).refine(Number.isFinite, expected);
  if (bounds.min !== undefined) schema = schema.refine((v) => v >= bounds.min!, expected);
  if (bounds.above !== undefined) schema = schema.refine((v) => v > bounds.above!, expected);
  if (bounds.max !== undefined) schema = schema.refine((v) => v <= bounds.max!, expected);
  return checked(option, schema);
}

/** Worker threads: at least 1, at most the machine's cores (more only contend and multiply memory). */
export function threads(option: string) {
  const cores = availableParallelism();
  return checked(
    option,
    z
      .number(`expected an integer in 1..${cores} (the machine's cores)`)
      .int(`expected an integer in 1..${cores} (the machine's cores)`)
      .min(1, `expected an integer in 1..${cores} (the machine's cores)`)
      .max(cores, `expected at most ${cores}, the number of cores on this machine`),
  );
}

/** Paths under which a folder cannot be made: pseudo-filesystems (Node 20's recursive mkdir spins forever under /proc). */
const PSEUDO_FS = ['/proc', '/sys', '/dev'];

/**
 * An output path whose folder can be created: not in a pseudo-filesystem, and the nearest existing
 * ancestor is a folder this process may write in (a read-only folder is told as such, not as ENOENT).
 */
export function outputPath(option: string) {
  return (value: unknown): string => {
    if (typeof value !== 'string' || value.trim() === '') fail(option, `expected a path, got ${show(value)}`);
    const full = resolve(value);
    let existing = full;
    for (;;) {
      try {
        statSync(existing);
        break;
      } catch {
        if (dirname(existing) === existing) break;
        existing = dirname(existing);
      }
    }
    const real = realpathSync(existing);
    if (PSEUDO_FS.some((p) => real === p || real.startsWith(`${p}/`)))
      fail(option, `${value} is inside ${real.split('/').slice(0, 2).join('/')}, a system pseudo-filesystem; choose a folder on disk`);
    const info = statSync(existing);
    if (existing === full && info.isDirectory()) return value;
    if (existing !== full && !info.isDirectory()) fail(option, `${value}: ${existing} is a file, not a folder`);
    try {
      accessSync(info.isDirectory() ? existing : dirname(existing), constants.W_OK);
    } catch {
      fail(option, `${value}: ${info.isDirectory() ? existing : dirname(existing)} is not writable`);
    }
    return value;
  };
}

/** A folder that must exist (a model, a VAE). */
export function existingFolder(option: string) {
  return (value: unknown): string => {
    if (typeof value !== 'string' || value === '') fail(option, `expected a folder, got ${show(value)}`);
    let info: Stats;
    try {
      info = statSync(value);
    } catch {
      fail(option, `${value} does not exist`, 'FILE_NOT_FOUND');
    }
    if (!info.isDirectory()) fail(option, `${value} is not a folder`, 'FILE_NOT_FOUND');
    return value;
  };
}

/** Reads a JSON file named by an option: missing, unreadable and invalid JSON are three different messages. */
export function readJsonFile(option: string, path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fail(option, `${path} does not exist`, 'FILE_NOT_FOUND');
    if (code === 'EISDIR') fail(option, `${path} is a folder, expected a JSON file`, 'FILE_NOT_FOUND');
    fail(option, `${path} cannot be read (${code ?? (error as Error).message})`, 'FILE_NOT_FOUND');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    fail(option, `${path} is not valid JSON (${(error as Error).message})`, 'CORRUPT_FILE');
  }
}

/** A JSON file holding an object (--model-config); returns the path, the object is read again by the job. */
export function jsonObjectFile(option: string) {
  return (value: unknown): string => {
    if (typeof value !== 'string' || value === '') fail(option, `expected a JSON file, got ${show(value)}`);
    const json = readJsonFile(option, value);
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      fail(option, `${value} must hold a JSON object, got ${show(json).slice(0, 40)}`, 'INVALID_CONFIG');
    return value;
  };
}

/** The --config file: a JSON object of options; remembered so errors can name it. */
export function readConfigOption(path: string): Record<string, unknown> {
  const json = readJsonFile('config', path);
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    fail('config', `${path} must hold a JSON object of options, e.g. {"steps": 2000}`, 'INVALID_CONFIG');
  source.config = { path, keys: new Set(Object.keys(json)) };
  return json as Record<string, unknown>;
}

/** A dataset spec as --data takes it; files named in it must exist (read later, after the backend starts). */
export function dataSpec(option: string) {
  return (value: unknown): string => {
    if (typeof value !== 'string') fail(option, `expected a dataset, got ${show(value)}`);
    const known = 'mnist | fashion-mnist | fashion-mnist:test | idx:IMAGES[,LABELS] | folder:DIR';
    if (value === 'mnist' || value === 'fashion-mnist' || value === 'fashion-mnist:test') return value;
    if (value.startsWith('idx:')) {
      const files = value.slice(4).split(',');
      if (files.length > 2 || files.some((f) => f === '')) fail(option, `expected idx:IMAGES[,LABELS], got ${show(value)}`);
      for (const f of files) {
        let info: Stats;
        try {
          info = statSync(f);
        } catch {
          fail(option, `${f} does not exist`, 'FILE_NOT_FOUND');
        }
        if (!info.isFile()) fail(option, `${f} is not a file`, 'FILE_NOT_FOUND');
      }
      return value;
    }
    if (value.startsWith('folder:')) {
      existingFolder(option)(value.slice(7));
      return value;
    }
    fail(option, `unknown dataset ${show(value)}; expected ${known}`);
  };
}

/** Comma-separated integers in [min, max] (compare --steps). */
export function intList(option: string, min: number, max: number) {
  return (value: unknown): number[] => {
    const parts = String(value)
      .split(',')
      .map((s) => s.trim());
    const numbers = parts.map(Number);
    if (parts.some((p) => p === '') || numbers.some((n) => !Number.isInteger(n) || n < min || n > max)) {
      fail(option, `expected integers in ${min}..${max} separated by commas, got ${show(value)}`);
    }
    return numbers;
  };
}
