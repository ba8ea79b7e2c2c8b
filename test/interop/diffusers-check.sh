#!/usr/bin/env bash
# Does a folder `ldm train` wrote load in Hugging Face diffusers unchanged, and does diffusers' DDIM give
# the same images from the same x_T? Trains a tiny VAE, a latent DDPM on it and a tiny pixel DDPM with the
# `ldm` command (from the sources), then compares for both pipelines (LDMPipeline, DDPMPipeline).
# Needs python3-torch and a diffusers snapshot (../shared/tools/diffusers/README.md); not part of CI.
#   DIFFUSERS_GIT=/work/.mirror/huggingface+diffusers/repo bash test/interop/diffusers-check.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${DIFFUSERS_TOOLS:-$root/../shared/tools/diffusers}"
# LDM_DIFFUSERS_WORK=DIR keeps the trained folders there and reuses them on the next run.
if [[ -n "${LDM_DIFFUSERS_WORK:-}" ]]; then work="$LDM_DIFFUSERS_WORK"; mkdir -p "$work"; else
  work="$(mktemp -d /tmp/ldm-diffusers.XXXXXX)"; trap 'rm -rf "$work"' EXIT; fi
cd "$root"
ldm() { node --conditions=@ldm/source --import tsx apps/cli/src/main.ts "$@"; }
node_ts() { node --conditions=@ldm/source --import tsx "$@"; }

[[ -f "$work/vae/latent_stats.json" ]] || ldm train-vae --out "$work/vae" --steps 40 --limit 400 --quiet
[[ -f "$work/latent/unet/config.json" ]] || ldm train --space latent --vae "$work/vae" --out "$work/latent" --steps 40 --limit 400 --sample-every 1000 --quiet
[[ -f "$work/pixel/unet/config.json" ]] || ldm train --space pixel --out "$work/pixel" --steps 5 --batch-size 8 --limit 100 --sample-every 1000 --quiet

status=0
for kind in latent pixel; do
  echo "== $kind: $(cat "$work/$kind/model_index.json" | tr -d '\n ')"
  rm -rf "$work/$kind-npy" "$work/$kind-npy2" && mkdir -p "$work/$kind-npy" "$work/$kind-npy2"
  node_ts test/interop/ldm-generate.ts "$work/$kind" "$work/$kind-npy" 4 50
  bash "$tools/run.sh" test/interop/diffusers_check.py "$work/$kind" "$work/$kind-npy" 50 2>"$work/$kind-python.log" || { status=1; tail -20 "$work/$kind-python.log"; }
  # The other direction: what diffusers saved, loaded by @ldm/pipeline, from the same x_T.
  node_ts test/interop/ldm-generate.ts "$work/$kind-npy/diffusers-saved" "$work/$kind-npy2" 4 50 "$work/$kind-npy/diffusers-images.npy" || status=1
done
exit $status
