import { LdmError } from '@ldm/backend';

/** Share of samples predicted as each class (sums to 1). */
export function classShares(predictedLabels: ArrayLike<number>, numClasses: number): Float64Array {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new LdmError('INVALID_ARGUMENT', `classShares: numClasses must be a positive integer, got ${numClasses}`);
  }
  if (predictedLabels.length === 0) throw new LdmError('INVALID_ARGUMENT', 'classShares: no labels given');
  const shares = new Float64Array(numClasses);
  for (let i = 0; i < predictedLabels.length; i++) {
    const c = predictedLabels[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
      throw new LdmError('INVALID_ARGUMENT', `classShares: label ${c} at index ${i} is outside [0, ${numClasses})`);
    }
    shares[c]! += 1;
  }
  for (let c = 0; c < numClasses; c++) shares[c]! /= predictedLabels.length;
  return shares;
}

export interface ModeCoverage {
  /** Classes whose share reaches the threshold. */
  coveredClasses: number;
  /** coveredClasses / numClasses. */
  coverage: number;
  /** The threshold used. */
  minShare: number;
  /** The largest class share, and its class: near 1 means the generator collapsed onto one mode. */
  maxShare: number;
  dominantClass: number;
  /** Entropy of the shares divided by log(numClasses): 1 for uniform, 0 for a single class. */
  normalizedEntropy: number;
}

/**
 * Summary of class shares. A class counts as covered when its share is at least `minShare`
 * (default: half of a uniform share, 0.5 / numClasses).
 */
export function modeCoverage(shares: ArrayLike<number>, minShare = 0.5 / shares.length): ModeCoverage {
  const n = shares.length;
  if (n === 0) throw new LdmError('INVALID_ARGUMENT', 'modeCoverage: no class shares given');
  let covered = 0;
  let maxShare = -Infinity;
  let dominantClass = 0;
  let entropy = 0;
  for (let c = 0; c < n; c++) {
    const s = shares[c]!;
    if (s >= minShare) covered++;
    if (s > maxShare) {
      maxShare = s;
      dominantClass = c;
    }
    if (s > 0) entropy -= s * Math.log(s);
  }
  return {
    coveredClasses: covered,
    coverage: covered / n,
    minShare,
    maxShare,
    dominantClass,
    normalizedEntropy: n > 1 ? entropy / Math.log(n) : 0,
  };
}
