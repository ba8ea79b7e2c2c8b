// The browser build: what runs in a web page. Node's backend ladder (libtensorflow, oneDNN) and file
// writing are replaced by their browser counterparts; every other export is the same module as Node's.
export { initBackend, activeBackend } from './backend-browser';
export type { BrowserBackendName, BrowserBackendOptions, BrowserBackendInfo } from './backend-browser';
export * from './portable';
export { writeFileAtomic } from './atomic-write-browser';
