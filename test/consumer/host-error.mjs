// After initBackend (wasm), the host's own uncaught error must keep Node's exit code (1) and its own
// trace; before the fix, Emscripten's handler re-threw it from inside tfjs with exit code 7.
import { initBackend } from '@ldm/backend';

await initBackend({ backend: 'wasm' });
setTimeout(() => {
  throw new Error('host application error');
}, 0);
