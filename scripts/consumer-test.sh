#!/usr/bin/env bash
# The packages as another repository gets them: build, pack every package, install the tarballs with
# npm into projects outside the workspace, and run there in plain Node (no @ldm/source, no tsx):
# ESM and CJS scripts, a strict nodenext `tsc`, every package README's example, the installed `ldm`
# binary (and `ldm serve`'s page in headless Chromium), and a host app's own error after initBackend. Prints the install sizes. Any failure exits 1.
#   bash scripts/consumer-test.sh            (KEEP=1 keeps the temporary folder)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/ldm-consumer.XXXXXX)"
[[ "${KEEP:-0}" == 1 ]] || trap 'rm -rf "$work"' EXIT
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false npm_config_loglevel=error
t0=$SECONDS
step() { printf '\n== consumer: %s (%ds)\n' "$1" $((SECONDS - t0)); }

step "build"
(cd "$root" && pnpm build --output-logs=errors-only)

step "pack"
(cd "$root" && pnpm -r pack --pack-destination "$work/tarballs" >/dev/null)
ls "$work/tarballs"
tgz() { for name in "$@"; do echo "$work/tarballs/ldm-$name-0.1.0.tgz"; done; }

step "install @ldm/pipeline alone (what a library user of the pipeline gets)"
mkdir -p "$work/pipeline-only" && cd "$work/pipeline-only"
echo '{ "name": "pipeline-consumer", "private": true }' > package.json
npm install $(tgz pipeline backend onednn nn unet vae ddpm ddim data) >/dev/null
pipeline_mb=$(du -sm node_modules | cut -f1)
node --input-type=module -e "import { LatentDiffusionPipeline } from '@ldm/pipeline'; if (typeof LatentDiffusionPipeline.fromPretrained !== 'function') process.exit(1);"

step "install every package and the CLI"
app="$work/app"
mkdir -p "$app" && cd "$app"
echo '{ "name": "consumer", "private": true }' > package.json
npm install $(tgz backend onednn nn unet vae ddpm ddim data eval pipeline report cli) typescript@5.9.3 @types/node@20 >/dev/null
typescript_mb=$(( $(du -sm node_modules/typescript | cut -f1) + $(du -sm node_modules/@types | cut -f1) ))
all_mb=$(( $(du -sm node_modules | cut -f1) - typescript_mb ))
cp "$root"/test/consumer/*.cjs "$root"/test/consumer/*.mjs "$root"/test/consumer/*.mts "$root"/test/consumer/*.cts "$root"/test/consumer/tsconfig.json .

step "ldm binary: --help, demo --quick"
./node_modules/.bin/ldm --help >/dev/null
./node_modules/.bin/ldm demo --quick --out "$app/demo" >"$work/demo.log" 2>&1 || { tail -30 "$work/demo.log"; exit 1; }
test -f "$app/demo/report/index.html"
test -f "$app/demo/latent-ddpm/vqvae/config.json"
# The latent UNet is the recipe's (DEFAULTS.demo.latentUnet, no self-attention), from the file the demo wrote for stage 2.
test -f "$app/demo/latent-unet.json"
node -e "const c = require(process.argv[1]); if (c.down_block_types.some((t) => t.startsWith('Attn')) || c.add_attention !== false) { console.error('demo: the latent UNet is not the recipe\'s'); process.exit(1); }" "$app/demo/latent-ddpm/unet/config.json"
# The 2-D panel came from the `ldm toy2d` child (the built CLI starting itself) and made it into the report.
test -f "$app/demo/toy2d.json"
# With a second core the report's DDPM row comes from a child `ldm sample` of the built CLI, not the in-process fallback.
if [[ $(nproc) -ge 2 ]]; then
  grep -q 'sampling in a child process on the second core' "$work/demo.log" || { echo "demo --quick: the report did not sample its DDPM row in a child"; exit 1; }
  if grep -q 'the child failed' "$work/demo.log"; then grep 'the child failed' "$work/demo.log"; exit 1; fi
fi
node -e "const r = require(process.argv[1]); if (!r.toy2d || r.toy2d.methods.length < 3) { console.error('report without the 2-D panel'); process.exit(1); }" "$app/demo/report/results.json"
# The training digits' own FID is the reference a reader needs beside the generators' (the classifier was trained on them).
node -e "const r = require(process.argv[1]); const m = r.methods.find((m) => m.name === 'training-digits'); if (!m || !(m.fid >= 0)) { console.error('report without the training digits\' FID'); process.exit(1); }" "$app/demo/report/results.json"
# auto picks the native kernels where the addon built (the wasm path alone is checked by the scripts below).
if [[ "${LDM_REQUIRE_ONEDNN:-0}" == 1 ]]; then grep -q '"backend": "native"' "$app/demo/summary.json" || { echo "demo --quick did not run on native"; exit 1; }; fi

step "the packages in a browser bundle (esbuild, platform browser: their browser builds)"
node browser-bundle.mjs "$root"

step "ldm serve: the built page on the demo folder, in headless Chromium"
mkdir -p "$root/apps/cli/test-artifacts"
node serve-browser.mjs "$app/node_modules/.bin/ldm" "$app/demo/latent-ddpm" "$root" "$root/apps/cli/test-artifacts/serve-demo.png"

step "native kernels: @ldm/onednn built by its install script where oneDNN is present"
node --input-type=module -e "import { initBackend } from '@ldm/backend'; const info = await initBackend(); console.log('auto: ' + info.name + ' (' + info.kernels + ')'); if (process.env.LDM_REQUIRE_ONEDNN === '1' && info.name !== 'native') process.exit(1);"

step "ESM script"
LDM_PIPELINE_DIR="$app/demo/latent-ddpm" node consumer.mjs
step "CJS script"
node consumer.cjs

step "host errors keep their exit code after initBackend"
set +e
node host-error.mjs 2>"$work/host-error.log"
code=$?
set -e
if [[ $code -ne 1 ]] || ! grep -q 'host application error' "$work/host-error.log" || ! grep -q 'host-error.mjs' "$work/host-error.log"; then
  echo "host error: exit code $code (expected 1) or the trace is not the host's:"; cat "$work/host-error.log"; exit 1
fi
echo "exit code 1, the host's own trace"

step "package READMEs' examples"
mkdir -p readme
node "$root/scripts/readme-examples.mjs" "$root" readme
step "tsc --strict, moduleResolution nodenext (consumer files and README examples)"
./node_modules/.bin/tsc -p tsconfig.json
for f in readme/*.mts; do
  ./node_modules/.bin/tsc --target ES2022 --module nodenext --moduleResolution nodenext --skipLibCheck --outDir readme/js "$f"
  echo "run $f"
  (cd readme && node "js/$(basename "${f%.mts}").mjs" >/dev/null)
done

step "install sizes (du of node_modules)"
echo "pipeline only (@ldm/pipeline and what it pulls in): ${pipeline_mb} MB (target ≤ 120)"
echo "every package and the CLI (TypeScript of this test excluded): ${all_mb} MB (target ≤ 250)"
fail=0
(( pipeline_mb <= 120 )) || { echo "pipeline install over target"; fail=1; }
(( all_mb <= 250 )) || { echo "CLI install over target"; fail=1; }
step "done"
exit $fail
