export { initBackend, activeBackend, backendLadder } from './backend';
export type { BackendName, ConcreteBackendName, BackendOptions, BackendInfo, BackendAttempt, ConvPrecision } from './backend';
export * from './portable';
export { writeFileAtomic } from './atomic-write';
