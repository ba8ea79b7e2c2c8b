export { DDIMScheduler } from './ddim-scheduler';
export { ddimInvert } from './inversion';
export type { DdimInvertOptions } from './inversion';
export { slerp } from './slerp';
