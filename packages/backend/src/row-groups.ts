/*
 * Which broadcasts are "a row added to every row": shared by the native and our wasm kernels for Add and by
 * nothing else.
 */

/**
 * When `row` (right-aligned to `full`'s rank) is `full`'s leading k dims, then 1s, then `full`'s last dim — so it adds
 * one row per index of those k dims — the number of such rows G; else null.
 */
export function rowGroups(row: readonly number[], full: readonly number[]): number | null {
  const rank = full.length;
  if (rank < 1 || row.length < 1 || row.length > rank || row[row.length - 1] !== full[rank - 1]) return null;
  const r = [...new Array<number>(rank - row.length).fill(1), ...row];
  let k = 0;
  while (k < rank - 1 && r[k] === full[k] && r[k] !== 1) k++;
  for (let i = k; i < rank - 1; i++) if (r[i] !== 1) return null;
  return full.slice(0, k).reduce((p, d) => p * d, 1);
}
