import { LdmError } from '@ldm/backend';

/** Input checks shared by the single-step baselines (pca-gaussian.ts, diagonal-gmm.ts): row-major float32 [n, dim]. */
export function checkData(x: Float32Array, n: number, dim: number, where: string): void {
  if (!Number.isInteger(n) || n < 2 || !Number.isInteger(dim) || dim < 1) {
    throw new LdmError('INVALID_ARGUMENT', `${where}: n must be an integer ≥ 2 and dim ≥ 1, got n = ${n}, dim = ${dim}`);
  }
  if (x.length !== n * dim) throw new LdmError('SHAPE_MISMATCH', `${where}: expected n·dim = ${n * dim} values, got ${x.length}`);
}

export function checkCount(count: number, where: string): void {
  if (!Number.isInteger(count) || count < 1) throw new LdmError('INVALID_ARGUMENT', `${where}: count must be a positive integer, got ${count}`);
}
