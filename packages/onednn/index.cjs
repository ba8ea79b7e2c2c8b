'use strict';
// Loads the addon if it was built. Never throws: `binding` is null and `error` says why otherwise.
const { join } = require('node:path');

let binding = null;
let error = null;
try {
  binding = require(join(__dirname, 'build', 'Release', 'ldm_onednn.node'));
} catch (e) {
  error =
    e?.code === 'MODULE_NOT_FOUND'
      ? 'the @ldm/onednn addon is not built (needs Linux x64, a C++ compiler and libdnnl-dev; then `pnpm setup:native`)'
      : `the @ldm/onednn addon failed to load: ${String(e?.message || e).split('\n')[0]}`;
}

module.exports = { binding, error };
