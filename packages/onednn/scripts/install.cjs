// Builds the addon when this machine can: Linux x64, a C++ compiler, oneDNN's headers and library
// (Debian/Ubuntu: `apt-get install libdnnl-dev`). Anything missing is a one-line note and exit 0:
// the package is optional and @ldm/backend runs its wasm kernels without it.
const { execFileSync, spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { dirname, join } = require('node:path');

const root = join(__dirname, '..');
const note = (why) => {
  console.log(`@ldm/onednn: not built (${why}); the wasm kernels will run instead.`);
  process.exit(0);
};

if (process.env.LDM_ONEDNN_SKIP_BUILD) note('LDM_ONEDNN_SKIP_BUILD is set');
if (process.platform !== 'linux' || process.arch !== 'x64') note(`${process.platform}-${process.arch} is not supported; Linux x64 only`);
const includeDirs = [process.env.DNNL_INCLUDE_DIR, '/usr/include', '/usr/local/include'].filter(Boolean);
if (!includeDirs.some((d) => existsSync(join(d, 'oneapi/dnnl/dnnl.hpp')))) note('oneDNN headers not found: apt-get install libdnnl-dev');
try {
  execFileSync('c++', ['--version'], { stdio: 'ignore' });
} catch {
  note('no C++ compiler (c++) on PATH');
}

// Node's headers: beside the node binary (official tarballs, Debian's nodejs), else node-gyp downloads them.
const nodeDir = dirname(dirname(process.execPath));
const args = ['rebuild'];
if (existsSync(join(nodeDir, 'include/node/node_api.h'))) args.push(`--nodedir=${nodeDir}`);
// node-gyp: the one the package manager hands to install scripts, else npm's own copy, else PATH.
const npmGyp = join(dirname(dirname(process.execPath)), 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
const gyp = process.env.npm_config_node_gyp || (existsSync(npmGyp) ? npmGyp : undefined);
const [cmd, cmdArgs] = gyp ? [process.execPath, [gyp, ...args]] : ['node-gyp', args];
const result = spawnSync(cmd, cmdArgs, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
if (result.status !== 0) {
  const last = (result.stderr || String(result.error ?? '')).trim().split('\n').filter(Boolean).slice(-3).join(' | ');
  note(`node-gyp failed: ${last}`);
}
console.log('@ldm/onednn: built build/Release/ldm_onednn.node');
