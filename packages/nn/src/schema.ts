import { z } from 'zod';
import { LdmError } from '@ldm/backend';
import type { LdmErrorCode } from '@ldm/backend';

/** A value as it appears in an error message: JSON, cut short so a message stays one line. */
export function showValue(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/**
 * Checks `value` against `schema` and returns the parsed value; otherwise throws an LdmError naming
 * `where` (the file or option) and the key at fault, on one line: only the first problem is told,
 * since one fix at a time is what a user does and a list of 40 would bury it.
 */
export function parseWithSchema<S extends z.ZodType>(schema: S, value: unknown, where: string, code: LdmErrorCode = 'INVALID_CONFIG'): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = issue.path.length ? `"${issue.path.map(String).join('.')}"` : '';
  const got = issue.code === 'unrecognized_keys' ? '' : ` (got ${showValue(valueAt(value, issue.path))})`;
  const message =
    issue.code === 'unrecognized_keys' ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
  throw new LdmError(code, `${where}: ${key ? `${key} ` : ''}${message}${got}`);
}

/** Building blocks for the project's schemas: what a size, a count or a probability may be. */
export const schemas = {
  /** A positive integer, at most `max` (so a typo cannot ask for terabytes). */
  positiveInt: (max = 1 << 20) => z.number().int('expected an integer').min(1, 'expected an integer ≥ 1').max(max, `expected at most ${max}`),
  nonNegativeInt: (max = Number.MAX_SAFE_INTEGER) =>
    z.number().int('expected an integer').min(0, 'expected an integer ≥ 0').max(max, `expected at most ${max}`),
  finite: () => z.number().refine(Number.isFinite, 'expected a finite number'),
  positive: () => z.number().refine((v) => Number.isFinite(v) && v > 0, 'expected a finite number > 0'),
};
