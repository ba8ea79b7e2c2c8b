import { fileURLToPath } from 'node:url';

/**
 * The folder of reference values computed with diffusers and PyTorch (its README says how to read them).
 * `shared/` sits beside the repository, as in CI's clone; LDM_VECTORS overrides. Every package's tests use this.
 */
export const VECTORS = process.env.LDM_VECTORS ?? fileURLToPath(new URL('../../shared/vectors', import.meta.url));
