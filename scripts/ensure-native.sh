#!/usr/bin/env bash
# The native kernels (@ldm/onednn): Debian's oneDNN (libdnnl-dev, the library PyTorch uses on CPUs),
# then the Node-API addon built against it. Optional: where this cannot run (not Linux x64, no root
# for apt-get, no compiler) it says why and exits 0, and the wasm kernels run instead.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "native kernels: skipped ($(uname -s)-$(uname -m); Linux x64 only): the wasm kernels will run"
  exit 0
fi
if [ ! -f /usr/include/oneapi/dnnl/dnnl.hpp ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libdnnl-dev >/dev/null
  else
    echo "native kernels: skipped (oneDNN missing; install it with: sudo apt-get install -y libdnnl-dev, then pnpm setup:native): the wasm kernels will run"
    exit 0
  fi
fi
node packages/onednn/scripts/install.cjs
node -e "const m = require('./packages/onednn/index.cjs'); if (!m.binding) { console.log('native kernels: ' + m.error); process.exit(0) } const v = m.binding.version(); console.log('native kernels: oneDNN ' + v.onednn + ' (' + v.isa + ')')"
