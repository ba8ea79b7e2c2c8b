import * as tf from '@tensorflow/tfjs-core';

/*
 * Ops the native and our wasm kernels both see as [G, R, C] (G groups of R rows of C): a row added to every row of
 * its group (Add), and each group's rows summed (Sum). Both kernels take exactly these cases; others stay tfjs'.
 */

/**
 * When `row` (right-aligned to `full`'s rank) is `full`'s leading k dims, then 1s, then `full`'s last dim — so it adds
 * one row per index of those k dims — the number of such rows G; else null.
 */
function rowGroups(row: readonly number[], full: readonly number[]): number | null {
  const rank = full.length;
  if (rank < 1 || row.length < 1 || row.length > rank || row[row.length - 1] !== full[rank - 1]) return null;
  const r = [...new Array<number>(rank - row.length).fill(1), ...row];
  let k = 0;
  while (k < rank - 1 && r[k] === full[k] && r[k] !== 1) k++;
  for (let i = k; i < rank - 1; i++) if (r[i] !== 1) return null;
  return full.slice(0, k).reduce((p, d) => p * d, 1);
}

/**
 * A Sum over axes [first, rank − 2] (a run of axes ending just before the last) as [G, R, C] → [G, C]: G the size of
 * the axes before the run, R of the run, C the last; the output shape with keepDims honoured. Null for any other
 * reduction, or an empty one.
 */
export function leadingSumPlan(
  shape: readonly number[],
  axis: number | number[],
  keepDims: boolean,
): { groups: number; rows: number; cols: number; outShape: number[] } | null {
  const rank = shape.length;
  if (rank < 2) return null;
  const axes = tf.util.parseAxisParam(axis, [...shape]).sort((p, q) => p - q);
  const first = axes[0]!;
  if (axes.length === 0 || axes[axes.length - 1] !== rank - 2 || axes.some((a, i) => a !== first + i)) return null;
  const cols = shape[rank - 1]!;
  const kept = shape.slice(0, first);
  const groups = tf.util.sizeFromShape(kept);
  const rows = tf.util.sizeFromShape(shape.slice(first, rank - 1));
  if (rows === 0 || cols === 0 || groups === 0) return null;
  return { groups, rows, cols, outShape: keepDims ? [...kept, ...axes.map(() => 1), cols] : [...kept, cols] };
}

/**
 * a + b as [G, R, C] plus either the same shape (same) or [G, C], one row per group added to each of its R rows:
 * which operand is the full one, and G, R, C. Null for any other broadcast, or an empty one.
 */
export function rowAddPlan(a: readonly number[], b: readonly number[]): { full: 'a' | 'b'; same: boolean; groups: number; rows: number; cols: number } | null {
  const same = a.length === b.length && a.every((d, i) => d === b[i]);
  const full = same || rowGroups(b, a) !== null ? 'a' : rowGroups(a, b) !== null ? 'b' : null;
  if (!full) return null;
  const [fullShape, other] = full === 'a' ? [a, b] : [b, a];
  if (fullShape.length === 0) return null;
  const total = tf.util.sizeFromShape([...fullShape]);
  const cols = fullShape[fullShape.length - 1]!;
  if (total === 0 || cols === 0) return null;
  const groups = same ? 1 : rowGroups(other, fullShape)!;
  return { full, same, groups, rows: total / cols / groups, cols };
}
