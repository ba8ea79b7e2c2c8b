export { initBackend, activeBackend, backendLadder } from './backend';
export type { BackendName, ConcreteBackendName, BackendOptions, BackendInfo, BackendAttempt } from './backend';
export * from './portable';
export { writeFileAtomic } from './atomic-write';
