#!/usr/bin/env python3
"""Checks the bench's PyTorch twin (torch_models.py) against diffusers' own UNet2DModel and AutoencoderKL.

The twin re-implements our architectures in plain torch so the bench needs no diffusers; this script
builds diffusers 0.38's models from the same configs and times the same train step (forward, MSE
loss, backward, Adam) and inference, one thread, interleaved, in one process. Run it through
../shared/tools/diffusers/run.sh (diffusers offline on Debian's PyTorch):

  DIFFUSERS_GIT=… ../shared/tools/diffusers/run.sh apps/cli/bench/diffusers_twin_check.py [--rounds 3]

Prints, per model: parameters of both (must be equal) and images per CPU-second for each.
"""
import torch_compat  # noqa: F401  (torch 1.13 shims for diffusers 0.38)

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402
from diffusers import AutoencoderKL, UNet2DModel  # noqa: E402

LATENT_UNET = {
    "sample_size": 8, "in_channels": 4, "out_channels": 4, "block_out_channels": [32, 64],
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D"], "up_block_types": ["AttnUpBlock2D", "UpBlock2D"],
    "layers_per_block": 1, "attention_head_dim": 32, "norm_num_groups": 8,
}


def cpu_ms(fn, repeats):
    for _ in range(2):
        fn()
    out = []
    for _ in range(repeats):
        c0 = time.process_time()
        fn()
        out.append((time.process_time() - c0) * 1000.0)
    return statistics.median(out)


def steps_for(model, x, target, forward):
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def train():
        opt.zero_grad(set_to_none=True)
        F.mse_loss(forward(model, x), target).backward()
        opt.step()

    def infer():
        with torch.no_grad():
            forward(model, x)

    return train, infer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default=None, help="latent UNet config JSON (default: the project's LATENT_UNET_CONFIG)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = json.load(open(a.config)) if a.config else LATENT_UNET
    size, ch = config["sample_size"], config["in_channels"]
    ours = torch_models.UNet2DModel(torch_models.resolve_unet_config(config))
    theirs = UNet2DModel.from_config({**config})
    x = torch.randn(a.batch, ch, size, size)
    target = torch.randn(a.batch, ch, size, size)
    t = torch.randint(0, 1000, (a.batch,))
    runs = {
        "twin": steps_for(ours, x, target, lambda m, x: m(x, t)),
        "diffusers": steps_for(theirs, x, target, lambda m, x: m(x, t).sample),
    }
    res = {k: {"train": [], "infer": []} for k in runs}
    for _ in range(a.rounds):
        for k, (train, infer) in runs.items():
            res[k]["train"].append(a.batch * 1000.0 / cpu_ms(train, a.repeats))
            res[k]["infer"].append(a.batch * 1000.0 / cpu_ms(infer, a.repeats))
    out = {
        "params": {"twin": sum(p.numel() for p in ours.parameters()), "diffusers": sum(p.numel() for p in theirs.parameters())},
        "train_images_per_cpu_s": {k: round(statistics.median(v["train"]), 1) for k, v in res.items()},
        "inference_images_per_cpu_s": {k: round(statistics.median(v["infer"]), 1) for k, v in res.items()},
        "batch": a.batch, "threads": 1, "torch": torch.__version__,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
