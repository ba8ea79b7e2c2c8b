import { LdmError } from '@ldm/backend';

export type MethodSpace = 'pixel' | 'latent';
export type SamplerKind = 'baseline' | 'vae' | 'ddpm' | 'ddim';

/** One row of the comparison: a way of producing samples, and what it measured. */
export interface MethodResult {
  /** Unique id, also the key of its image grid, e.g. 'ddim-latent-50'. */
  name: string;
  /** Human-readable name for the table; defaults to `name`. */
  label?: string;
  space: MethodSpace;
  sampler: SamplerKind;
  /** Sampler steps (1 for a single VAE decode, null for baselines). */
  steps: number | null;
  /** DDIM η (0 deterministic, 1 DDPM-like); null where it does not apply. */
  eta: number | null;
  /** Model evaluations per sample (UNet calls, plus the decoder for latent methods). */
  nfe: number;
  /** Median wall time per sample over the timing repeats, in ms. */
  msPerSample: number;
  /** Peak tensor memory during sampling, MB. */
  peakMemoryMB: number;
  /** Null where the metric was not computed (shown as —). */
  fid: number | null;
  /** Real-vs-real FID at the same sample size. */
  fidFloor: number | null;
  precision: number | null;
  recall: number | null;
  /** Share of samples per class, as the classifier predicts them (sums to 1). */
  classShares: number[] | null;
  /** Samples the metrics used. */
  samples?: number;
  notes?: string;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGB: number;
  node: string;
  platform: string;
}

export interface ComparisonMeta {
  title?: string;
  /** ISO date of the run. */
  date: string;
  /** The tfjs backend that ran everything, e.g. 'wasm'. */
  backend: string;
  machine: MachineInfo;
  /** The exact commands that produced the results, in order. */
  commands: string[];
  /** Named seeds, e.g. { sampling: 0, split: 1 }. */
  seeds: Record<string, number>;
  dataset: string;
  /** How timing was measured, e.g. 'median of 5 repeats after 1 warm-up, batch 16'. */
  timing: string;
  /** The feature network behind FID. */
  classifier?: { path: string; heldOutAccuracy?: number };
  notes?: string[];
  /** Figures measured elsewhere (e.g. another framework on the same metric), shown under the table as a yardstick. */
  references?: ReferenceFigure[];
}

/** A score not measured in this run, printed for comparison with where it came from. */
export interface ReferenceFigure {
  label: string;
  fid: number;
  /** FID's real-vs-real floor of that measurement. */
  fidFloor?: number;
  source: string;
}

/** One sampler's 2-D samples and their exact distances to the true mixture. */
export interface ScatterMethod {
  name: string;
  /** Row-major [n, 2]. */
  points: number[];
  slicedWasserstein?: number;
  mmd?: number;
  /** Share of samples near each true mode, and between modes. */
  modeShares?: number[];
  betweenModes?: number;
}

/** The 2-D multimodality panel: samples of several samplers over the true modes. */
export interface ScatterPanel {
  dataset: string;
  /** Row-major [k, 2]. */
  modeMeans: number[];
  /** Radius used for the mode shares. */
  modeRadius?: number;
  /** Real samples, row-major [n, 2], drawn behind. */
  reference?: number[];
  methods: ScatterMethod[];
}

export interface ComparisonResults {
  meta: ComparisonMeta;
  methods: MethodResult[];
}

const isNumberOrNull = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isFinite(v));

/** Checks the shape of results before anything is written, listing every problem at once. */
export function validateResults(results: ComparisonResults): void {
  const problems: string[] = [];
  if (!results || !Array.isArray(results.methods)) throw new LdmError('INVALID_ARGUMENT', 'writeReport: results.methods must be an array');
  if (results.methods.length === 0) problems.push('methods is empty');
  const seen = new Set<string>();
  results.methods.forEach((m, i) => {
    const where = `methods[${i}] (${m.name})`;
    if (!m.name) problems.push(`methods[${i}]: name is empty`);
    if (seen.has(m.name)) problems.push(`${where}: name is used twice`);
    seen.add(m.name);
    if (!['pixel', 'latent'].includes(m.space)) problems.push(`${where}: space must be 'pixel' or 'latent'`);
    if (!['baseline', 'vae', 'ddpm', 'ddim'].includes(m.sampler)) problems.push(`${where}: sampler must be baseline, vae, ddpm or ddim`);
    for (const key of ['nfe', 'msPerSample', 'peakMemoryMB'] as const) {
      if (!(typeof m[key] === 'number' && Number.isFinite(m[key]) && m[key] >= 0)) problems.push(`${where}: ${key} must be a finite number ≥ 0`);
    }
    for (const key of ['steps', 'eta', 'fid', 'fidFloor', 'precision', 'recall'] as const) {
      if (!isNumberOrNull(m[key])) problems.push(`${where}: ${key} must be a finite number or null`);
    }
    if (m.classShares !== null && !(Array.isArray(m.classShares) && m.classShares.every((s) => Number.isFinite(s) && s >= 0))) {
      problems.push(`${where}: classShares must be an array of shares ≥ 0 or null`);
    }
  });
  const meta = results.meta;
  if (!meta) problems.push('meta is missing');
  else {
    if (!meta.backend) problems.push('meta.backend is empty');
    if (!Array.isArray(meta.commands) || meta.commands.length === 0) problems.push('meta.commands must list the commands that produced the results');
    if (!meta.seeds || typeof meta.seeds !== 'object') problems.push('meta.seeds is missing');
  }
  if (problems.length) throw new LdmError('INVALID_ARGUMENT', `writeReport: invalid results: ${problems.join('; ')}`);
}
