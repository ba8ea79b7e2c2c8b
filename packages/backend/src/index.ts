export { initBackend } from './backend';
export type { BackendName, BackendOptions, BackendInfo } from './backend';
export { LdmError } from './errors';
export type { LdmErrorCode } from './errors';
export { Generator, philox4x32 } from './random';
export type { GeneratorState } from './random';
export { randn, rand } from './tensors';
