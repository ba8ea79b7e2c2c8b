#!/usr/bin/env python3
"""PyTorch (CPU) re-implementation of the architectures @ldm/unet and @ldm/vae build, for timing.

Issue 7: the benchmark compares our TensorFlow.js models with the same architecture and batch in
PyTorch on the same machine. This file is self-contained (torch only, no diffusers) and mirrors:

  * UNet2DModel as packages/unet builds it (positional timestep embedding, ResnetBlock2D with a
    time-embedding projection, DownBlock2D / AttnDownBlock2D / AttnUpBlock2D / UpBlock2D,
    UNetMidBlock2D with attention, conv downsample stride 2 padding `downsample_padding`, nearest x2
    upsample + conv, layers_per_block resnets per down block and layers_per_block + 1 per up block
    with skip concatenation);
  * AutoencoderKL as packages/vae builds it (DownEncoderBlock2D with the asymmetric-padded
    downsample, mid block resnet-attn-resnet, double_z encoder, quant/post-quant 1x1 convs,
    UpDecoderBlock2D, GroupNorm eps 1e-6).

The config is the JSON our `toConfig()` writes (diffusers' snake_case keys); missing keys take the
diffusers defaults our config.ts uses, unknown keys and unsupported values are errors, so the
printed parameter count equals our `numParameters()` for the same config.

Usage:
  /usr/bin/python3 apps/cli/bench/torch_models.py --kind unet|vae --config CONFIG.json \
      --batch B --threads T [--repeats R] [--size S] [--params-only]

Prints one JSON line: {kind, params, batch, threads, torch_version, train_images_per_s,
forward_images_per_s, train_images_per_cpu_s, forward_images_per_cpu_s, train_step_ms, forward_ms, size, repeats,
omp_wait_policy}. A train step is forward + MSE loss
(UNet: against a random target at random integer timesteps; VAE: reconstruction MSE of a
reparameterised posterior sample + KL of the posterior) + backward + Adam step; forward is inference
under torch.no_grad() (VAE: encode + decode of the posterior mean). Times are the median of
`repeats` runs after 2 warm-ups. Exit code 2 when torch cannot be imported, 1 on a bad config.
"""

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time

# Debian's torch uses libgomp, whose threads spin-wait at every barrier. With other processes on the
# cores (the bench times our wasm workers in the same run) spinning makes 2 threads 6-11x slower than
# 1 (measured: latent UNet forward 490 ms vs 99 ms passive). Must be set before libgomp loads;
# OMP_WAIT_POLICY=ACTIVE in the environment restores the default.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the bench treats this as "PyTorch not installed"
    print(f"torch_models.py: cannot import torch ({e})", file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------------------------------------
# configs (defaults = packages/unet/src/config.ts UNET_2D_DEFAULTS, packages/vae/src/config.ts
# AUTOENCODER_KL_DEFAULTS, i.e. diffusers 0.38)

UNET_DEFAULTS = {
    "sample_size": None,
    "in_channels": 3,
    "out_channels": 3,
    "center_input_sample": False,
    "time_embedding_type": "positional",
    "time_embedding_dim": None,
    "freq_shift": 0,
    "flip_sin_to_cos": True,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"],
    "mid_block_type": "UNetMidBlock2D",
    "up_block_types": ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
    "block_out_channels": [224, 448, 672, 896],
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "downsample_padding": 1,
    "downsample_type": "conv",
    "upsample_type": "conv",
    "dropout": 0.0,
    "act_fn": "silu",
    "attention_head_dim": 8,
    "norm_num_groups": 32,
    "attn_norm_num_groups": None,
    "norm_eps": 1e-5,
    "resnet_time_scale_shift": "default",
    "add_attention": True,
    "class_embed_type": None,
    "num_class_embeds": None,
    "num_train_timesteps": None,
}

VAE_DEFAULTS = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"],
    "up_block_types": ["UpDecoderBlock2D"],
    "block_out_channels": [64],
    "layers_per_block": 1,
    "act_fn": "silu",
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 32,
    "scaling_factor": 0.18215,
    "shift_factor": None,
    "latents_mean": None,
    "latents_std": None,
    "force_upcast": True,
    "use_quant_conv": True,
    "use_post_quant_conv": True,
    "mid_block_add_attention": True,
}

VAE_NORM_EPS = 1e-6  # diffusers hard-codes it in the VAE encoder and decoder


class ConfigError(ValueError):
    pass


def _snake(key):
    """camelCase → snake_case, as our resolveConfig also accepts camelCase keys."""
    out = []
    for ch in key:
        if ch.isupper():
            out.append("_" + ch.lower())
        else:
            out.append(ch)
    return "".join(out)


def resolve_config(defaults, given, what):
    out = dict(defaults)
    unknown = []
    for key, value in given.items():
        if key.startswith("_"):
            continue  # _class_name, _diffusers_version
        k = _snake(key)
        if k not in defaults:
            unknown.append(key)
            continue
        out[k] = value
    if unknown:
        raise ConfigError(f"{what}: unknown config keys {unknown}")
    return out


def _unsupported(option, value, supported):
    return ConfigError(f"UNet2DModel: {option}={json.dumps(value)} is not supported (supported: {supported})")


def resolve_unet_config(given):
    c = resolve_config(UNET_DEFAULTS, given, "UNet2DModel config")
    n = len(c["block_out_channels"])
    if n == 0:
        raise ConfigError("UNet2DModel: block_out_channels must not be empty")
    if len(c["down_block_types"]) != n or len(c["up_block_types"]) != n:
        raise ConfigError("UNet2DModel: down_block_types and up_block_types need one entry per block_out_channels")
    for t in c["down_block_types"]:
        if t not in ("DownBlock2D", "AttnDownBlock2D"):
            raise _unsupported("down_block_types", t, "DownBlock2D, AttnDownBlock2D")
    for t in c["up_block_types"]:
        if t not in ("UpBlock2D", "AttnUpBlock2D"):
            raise _unsupported("up_block_types", t, "UpBlock2D, AttnUpBlock2D")
    checks = [
        ("time_embedding_type", ("positional",)),
        ("act_fn", ("silu",)),
        ("resnet_time_scale_shift", ("default",)),
        ("downsample_type", ("conv",)),
        ("upsample_type", ("conv",)),
        ("mid_block_type", ("UNetMidBlock2D", None)),
        ("class_embed_type", (None,)),
        ("num_class_embeds", (None,)),
    ]
    for key, allowed in checks:
        if c[key] not in allowed:
            raise _unsupported(key, c[key], ", ".join("null" if a is None else a for a in allowed))
    if not c["layers_per_block"] >= 1:
        raise ConfigError("UNet2DModel: layers_per_block must be >= 1")
    for ch in c["block_out_channels"]:
        if ch % c["norm_num_groups"]:
            raise ConfigError(f"UNet2DModel: block_out_channels entry {ch} is not divisible by norm_num_groups {c['norm_num_groups']}")
    return c


def resolve_vae_config(given):
    c = resolve_config(VAE_DEFAULTS, given, "AutoencoderKL config")
    n = len(c["block_out_channels"])
    if n == 0:
        raise ConfigError("AutoencoderKL: block_out_channels must not be empty")
    if len(c["down_block_types"]) != n or len(c["up_block_types"]) != n:
        raise ConfigError("AutoencoderKL: down_block_types and up_block_types need one entry per block_out_channels")
    if any(t != "DownEncoderBlock2D" for t in c["down_block_types"]):
        raise ConfigError("AutoencoderKL: only DownEncoderBlock2D down blocks are supported")
    if any(t != "UpDecoderBlock2D" for t in c["up_block_types"]):
        raise ConfigError("AutoencoderKL: only UpDecoderBlock2D up blocks are supported")
    if c["act_fn"] != "silu":
        raise ConfigError(f"AutoencoderKL: act_fn '{c['act_fn']}' is not supported (supported: silu)")
    for ch in c["block_out_channels"]:
        if ch % c["norm_num_groups"]:
            raise ConfigError(f"AutoencoderKL: block_out_channels entry {ch} is not divisible by norm_num_groups {c['norm_num_groups']}")
    return c


# ---------------------------------------------------------------------------------------------
# building blocks (packages/nn/src), NCHW as torch does it


class ResnetBlock2D(nn.Module):
    """conv1(silu(norm1(x))) + time_emb_proj(silu(temb)), conv2(dropout(silu(norm2(h)))), 1x1 shortcut
    when the channel count changes, (shortcut + h) / output_scale_factor."""

    def __init__(self, in_ch, out_ch, temb_ch, groups, eps, dropout=0.0, output_scale_factor=1.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch, eps=eps)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_ch, out_ch) if temb_ch is not None else None
        self.norm2 = nn.GroupNorm(groups, out_ch, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None
        self.output_scale_factor = output_scale_factor

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None and temb is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        s = self.conv_shortcut(x) if self.conv_shortcut is not None else x
        y = s + h
        return y if self.output_scale_factor == 1 else y / self.output_scale_factor


class SpatialSelfAttention(nn.Module):
    """diffusers' Attention as the UNet/VAE blocks build it: GroupNorm, multi-head self-attention over
    the H*W positions (to_q/to_k/to_v/to_out.0 with biases), plus the residual."""

    def __init__(self, channels, head_dim, groups, eps, rescale_output_factor=1.0):
        super().__init__()
        if channels % head_dim:
            raise ConfigError(f"attention: {channels} channels do not split into heads of attention_head_dim {head_dim}")
        self.heads = channels // head_dim
        self.head_dim = head_dim
        self.group_norm = nn.GroupNorm(groups, channels, eps=eps)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels)])
        self.rescale = rescale_output_factor

    def forward(self, x):
        b, c, h, w = x.shape
        n, heads, d = h * w, self.heads, self.head_dim
        tokens = self.group_norm(x).reshape(b, c, n).transpose(1, 2)  # [b, n, c]

        def split(t):  # [b, n, c] → [b·heads, n, d]
            return t.reshape(b, n, heads, d).transpose(1, 2).reshape(b * heads, n, d)

        q, k, v = split(self.to_q(tokens)), split(self.to_k(tokens)), split(self.to_v(tokens))
        scores = torch.baddbmm(
            torch.empty(b * heads, n, n, dtype=q.dtype, device=q.device), q, k.transpose(1, 2), beta=0, alpha=1 / math.sqrt(d)
        )
        out = torch.bmm(scores.softmax(dim=-1), v)  # [b·heads, n, d]
        merged = out.reshape(b, heads, n, d).transpose(1, 2).reshape(b, n, c)
        projected = self.to_out[0](merged).transpose(1, 2).reshape(b, c, h, w)
        y = projected + x
        return y if self.rescale == 1 else y / self.rescale


class Downsample2D(nn.Module):
    """3x3 stride-2 conv; with padding 0 (VAE encoder) first zero-pad one row/column bottom/right."""

    def __init__(self, channels, padding=1):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample2D(nn.Module):
    """nearest x2, then a 3x3 conv with padding 1."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNetMidBlock2D(nn.Module):
    """resnet, then (attention, resnet) x num_layers."""

    def __init__(self, channels, temb_ch, groups, eps, head_dim, attn_groups=None, add_attention=True, dropout=0.0, output_scale_factor=1.0, num_layers=1):
        super().__init__()

        def resnet():
            return ResnetBlock2D(channels, channels, temb_ch, groups, eps, dropout, output_scale_factor)

        self.attentions = nn.ModuleList() if add_attention else None
        self.resnets = nn.ModuleList([resnet()])
        for _ in range(num_layers):
            if self.attentions is not None:
                self.attentions.append(SpatialSelfAttention(channels, head_dim, attn_groups or groups, eps, output_scale_factor))
            self.resnets.append(resnet())

    def forward(self, x, temb=None):
        h = self.resnets[0](x, temb)
        for i in range(1, len(self.resnets)):
            if self.attentions is not None:
                h = self.attentions[i - 1](h)
            h = self.resnets[i](h, temb)
        return h


def timestep_embedding(t, dim, flip_sin_to_cos, freq_shift, max_period=10000):
    """diffusers' get_timestep_embedding in float32."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - freq_shift)
    args = t.float()[:, None] * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.cos(args), torch.sin(args)] if flip_sin_to_cos else [torch.sin(args), torch.cos(args)], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1))
    return emb


class TimestepEmbedding(nn.Module):
    def __init__(self, in_ch, dim):
        super().__init__()
        self.linear_1 = nn.Linear(in_ch, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


# ---------------------------------------------------------------------------------------------
# UNet2DModel (packages/unet/src)


class DownBlock2D(nn.Module):
    """DownBlock2D / AttnDownBlock2D (head_dim None / int); returns (hidden, skips)."""

    def __init__(self, in_ch, out_ch, temb_ch, num_layers, groups, eps, dropout, head_dim, add_downsample, downsample_padding):
        super().__init__()
        self.attentions = nn.ModuleList() if head_dim is not None else None
        self.resnets = nn.ModuleList()
        for i in range(num_layers):
            self.resnets.append(ResnetBlock2D(in_ch if i == 0 else out_ch, out_ch, temb_ch, groups, eps, dropout))
            if self.attentions is not None:
                self.attentions.append(SpatialSelfAttention(out_ch, head_dim, groups, eps))
        self.downsamplers = nn.ModuleList([Downsample2D(out_ch, downsample_padding)]) if add_downsample else None

    def forward(self, x, temb):
        skips = []
        h = x
        for i, r in enumerate(self.resnets):
            h = r(h, temb)
            if self.attentions is not None:
                h = self.attentions[i](h)
            skips.append(h)
        if self.downsamplers is not None:
            h = self.downsamplers[0](h)
            skips.append(h)
        return h, skips


class UpBlock2D(nn.Module):
    """UpBlock2D / AttnUpBlock2D: each resnet takes cat([hidden, skip]) (hidden first), popping the most
    recent skip; the last resnet's skip has in_ch channels, the others out_ch."""

    def __init__(self, in_ch, prev_out_ch, out_ch, temb_ch, num_layers, groups, eps, dropout, head_dim, add_upsample):
        super().__init__()
        self.attentions = nn.ModuleList() if head_dim is not None else None
        self.resnets = nn.ModuleList()
        for i in range(num_layers):
            skip_ch = in_ch if i == num_layers - 1 else out_ch
            res_in = prev_out_ch if i == 0 else out_ch
            self.resnets.append(ResnetBlock2D(res_in + skip_ch, out_ch, temb_ch, groups, eps, dropout))
            if self.attentions is not None:
                self.attentions.append(SpatialSelfAttention(out_ch, head_dim, groups, eps))
        self.upsamplers = nn.ModuleList([Upsample2D(out_ch)]) if add_upsample else None

    def forward(self, x, skips, temb):
        h = x
        for i, r in enumerate(self.resnets):
            h = r(torch.cat([h, skips.pop()], dim=1), temb)
            if self.attentions is not None:
                h = self.attentions[i](h)
        return self.upsamplers[0](h) if self.upsamplers is not None else h


class UNet2DModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        boc = c["block_out_channels"]
        n = len(boc)
        temb = c["time_embedding_dim"] or boc[0] * 4
        groups, eps, dropout = c["norm_num_groups"], c["norm_eps"], c["dropout"]
        hd = c["attention_head_dim"]

        self.conv_in = nn.Conv2d(c["in_channels"], boc[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(boc[0], temb)

        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i in range(n):
            in_ch, out_ch = out_ch, boc[i]
            attn = hd if hd is not None else out_ch
            self.down_blocks.append(
                DownBlock2D(in_ch, out_ch, temb, c["layers_per_block"], groups, eps, dropout,
                            attn if c["down_block_types"][i] == "AttnDownBlock2D" else None, i < n - 1, c["downsample_padding"])
            )

        self.mid_block = None
        if c["mid_block_type"] is not None:
            self.mid_block = UNetMidBlock2D(
                boc[-1], temb, groups, eps, hd if hd is not None else boc[-1],
                attn_groups=c["attn_norm_num_groups"] or groups, add_attention=c["add_attention"],
                dropout=dropout, output_scale_factor=c["mid_block_scale_factor"],
            )

        self.up_blocks = nn.ModuleList()
        rev = list(reversed(boc))
        out_ch = rev[0]
        for i in range(n):
            prev, out_ch = out_ch, rev[i]
            in_ch = rev[min(i + 1, n - 1)]
            attn = hd if hd is not None else out_ch
            self.up_blocks.append(
                UpBlock2D(in_ch, prev, out_ch, temb, c["layers_per_block"] + 1, groups, eps, dropout,
                          attn if c["up_block_types"][i] == "AttnUpBlock2D" else None, i < n - 1)
            )

        self.conv_norm_out = nn.GroupNorm(groups, boc[0], eps=eps)
        self.conv_out = nn.Conv2d(boc[0], c["out_channels"], 3, padding=1)

    def forward(self, sample, timesteps):
        c = self.c
        x = sample * 2 - 1 if c["center_input_sample"] else sample
        t_proj = timestep_embedding(timesteps, c["block_out_channels"][0], c["flip_sin_to_cos"], c["freq_shift"])
        emb = self.time_embedding(t_proj)
        h = self.conv_in(x)
        skips = [h]
        for block in self.down_blocks:
            h, res = block(h, emb)
            skips.extend(res)
        if self.mid_block is not None:
            h = self.mid_block(h, emb)
        for block in self.up_blocks:
            k = len(block.resnets)
            res = skips[-k:]
            del skips[-k:]
            h = block(h, res, emb)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


# ---------------------------------------------------------------------------------------------
# AutoencoderKL (packages/vae/src)


class DownEncoderBlock2D(nn.Module):
    def __init__(self, in_ch, out_ch, num_layers, groups, add_downsample):
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock2D(in_ch if i == 0 else out_ch, out_ch, None, groups, VAE_NORM_EPS) for i in range(num_layers)]
        )
        self.downsamplers = nn.ModuleList([Downsample2D(out_ch, padding=0)]) if add_downsample else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return self.downsamplers[0](x) if self.downsamplers is not None else x


class UpDecoderBlock2D(nn.Module):
    def __init__(self, in_ch, out_ch, num_layers, groups, add_upsample):
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock2D(in_ch if i == 0 else out_ch, out_ch, None, groups, VAE_NORM_EPS) for i in range(num_layers)]
        )
        self.upsamplers = nn.ModuleList([Upsample2D(out_ch)]) if add_upsample else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return self.upsamplers[0](x) if self.upsamplers is not None else x


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        boc, groups = c["block_out_channels"], c["norm_num_groups"]
        n, last = len(boc), boc[-1]
        self.conv_in = nn.Conv2d(c["in_channels"], boc[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i in range(n):
            in_ch, out_ch = out_ch, boc[i]
            self.down_blocks.append(DownEncoderBlock2D(in_ch, out_ch, c["layers_per_block"], groups, i < n - 1))
        self.mid_block = UNetMidBlock2D(last, None, groups, VAE_NORM_EPS, last, add_attention=c["mid_block_add_attention"])
        self.conv_norm_out = nn.GroupNorm(groups, last, eps=VAE_NORM_EPS)
        self.conv_out = nn.Conv2d(last, 2 * c["latent_channels"], 3, padding=1)

    def forward(self, x):
        h = self.conv_in(x)
        for b in self.down_blocks:
            h = b(h)
        h = self.mid_block(h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        rev, groups = list(reversed(c["block_out_channels"])), c["norm_num_groups"]
        n = len(rev)
        self.conv_in = nn.Conv2d(c["latent_channels"], rev[0], 3, padding=1)
        self.mid_block = UNetMidBlock2D(rev[0], None, groups, VAE_NORM_EPS, rev[0], add_attention=c["mid_block_add_attention"])
        self.up_blocks = nn.ModuleList()
        out_ch = rev[0]
        for i in range(n):
            prev, out_ch = out_ch, rev[i]
            self.up_blocks.append(UpDecoderBlock2D(prev, out_ch, c["layers_per_block"] + 1, groups, i < n - 1))
        self.conv_norm_out = nn.GroupNorm(groups, rev[-1], eps=VAE_NORM_EPS)
        self.conv_out = nn.Conv2d(rev[-1], c["out_channels"], 3, padding=1)

    def forward(self, z):
        h = self.mid_block(self.conv_in(z))
        for b in self.up_blocks:
            h = b(h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class AutoencoderKL(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        l = c["latent_channels"]
        self.encoder = Encoder(c)
        self.decoder = Decoder(c)
        self.quant_conv = nn.Conv2d(2 * l, 2 * l, 1) if c["use_quant_conv"] else None
        self.post_quant_conv = nn.Conv2d(l, l, 1) if c["use_post_quant_conv"] else None

    def encode(self, x):
        """(mean, logvar) of the diagonal-Gaussian posterior, logvar clamped to [-30, 20]."""
        h = self.encoder(x)
        if self.quant_conv is not None:
            h = self.quant_conv(h)
        mean, logvar = torch.chunk(h, 2, dim=1)
        return mean, torch.clamp(logvar, -30.0, 20.0)

    def decode(self, z):
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        return self.decoder(z)


# ---------------------------------------------------------------------------------------------
# timing


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def time_median(fn, repeats, warmup=2):
    """Median wall ms and median process CPU ms (all threads) of one call, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return statistics.median(times), statistics.median(cpu)


class DiffusersUNet(nn.Module):
    """diffusers' UNet2DModel behind the twin's call signature (returns the tensor, not a dataclass)."""

    def __init__(self, config):
        super().__init__()
        from diffusers import UNet2DModel as _UNet2DModel

        self.m = _UNet2DModel.from_config(config)

    def forward(self, x, t):
        return self.m(x, t).sample


class DiffusersVAE(nn.Module):
    """diffusers' AutoencoderKL behind the twin's encode → (mean, logvar) / decode → tensor."""

    def __init__(self, config):
        super().__init__()
        from diffusers import AutoencoderKL as _AutoencoderKL

        self.m = _AutoencoderKL.from_config(config)

    def encode(self, x):
        d = self.m.encode(x).latent_dist
        return d.mean, d.logvar

    def decode(self, z):
        return self.m.decode(z).sample


def build(kind, config, impl="twin"):
    """impl 'diffusers' times diffusers' own classes (needs diffusers importable: ../shared/tools/diffusers/run.sh)."""
    if kind == "unet":
        c = resolve_unet_config(config)
        return (DiffusersUNet(config) if impl == "diffusers" else UNet2DModel(c)), c
    c = resolve_vae_config(config)
    return (DiffusersVAE(config) if impl == "diffusers" else AutoencoderKL(c)), c


def bench(kind, model, c, batch, size, repeats, bf16=False):
    g = torch.Generator().manual_seed(0)
    # --bf16: PyTorch's CPU autocast to bfloat16 (convolutions and matmuls in bfloat16, float32 accumulation and
    # weights), the peer of our --precision bf16.
    cast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    if bf16:
        # torch 1.13's CPU autocast leaves GroupNorm off its float32 list, and group_norm then refuses a bfloat16
        # input with float32 weights: normalise in float32, as autocast does on CUDA (and as ours does: only
        # convolutions take bfloat16).
        for m in model.modules():
            if isinstance(m, torch.nn.GroupNorm):
                m.register_forward_pre_hook(lambda _m, inp: tuple(t.float() for t in inp))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    if kind == "unet":
        x = torch.randn(batch, c["in_channels"], size, size, generator=g)
        target = torch.randn(batch, c["out_channels"], size, size, generator=g)
        num_t = c["num_train_timesteps"] or 1000

        def timesteps():
            return torch.randint(0, num_t, (batch,), generator=g)

        def train_step():
            opt.zero_grad(set_to_none=True)
            with cast():
                out = model(x, timesteps())
            loss = F.mse_loss(out.float(), target)
            loss.backward()
            opt.step()

        def forward():
            with torch.no_grad(), cast():
                model(x, timesteps())

    else:
        x = torch.rand(batch, c["in_channels"], size, size, generator=g) * 2 - 1

        def train_step():
            opt.zero_grad(set_to_none=True)
            with cast():
                mean, logvar = model.encode(x)
            mean, logvar = mean.float(), logvar.float()
            z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g)
            with cast():
                decoded = model.decode(z)
            recon = F.mse_loss(decoded.float(), x)
            kl = 0.5 * (mean.square() + logvar.exp() - 1 - logvar).sum(dim=(1, 2, 3)).mean()
            (recon + kl).backward()
            opt.step()

        def forward():
            with torch.no_grad(), cast():
                model.decode(model.encode(x)[0])

    model.train()
    train = time_median(train_step, repeats)
    model.eval()
    forward = time_median(forward, repeats)
    return train, forward


def main(argv=None):
    p = argparse.ArgumentParser(description="Time our UNet2DModel / AutoencoderKL architectures in PyTorch (CPU).")
    p.add_argument("--kind", choices=("unet", "vae"), required=True)
    p.add_argument("--config", required=True, help="config.json as our toConfig() writes it (diffusers snake_case keys)")
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--size", type=int, default=None, help="image side (default: the config's sample_size)")
    p.add_argument("--params-only", action="store_true", help="build the model and print params, no timing")
    p.add_argument("--impl", choices=("twin", "diffusers"), default="twin", help="this file's re-implementation, or diffusers' own classes")
    p.add_argument("--bf16", action="store_true", help="autocast to bfloat16 on the CPU (the peer of ldm's --precision bf16)")
    a = p.parse_args(argv)
    if a.batch < 1 or a.threads < 1 or a.repeats < 1:
        p.error("--batch, --threads and --repeats must be >= 1")

    # inter-op threads first: it can only be set before any parallel work starts
    try:
        torch.set_num_interop_threads(a.threads)
    except RuntimeError:
        pass
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    try:
        with open(a.config, encoding="utf-8") as f:
            config = json.load(f)
        if not isinstance(config, dict):
            raise ConfigError(f"{a.config}: expected a JSON object")
        if a.impl == "diffusers":
            import torch_compat  # noqa: F401  (diffusers 0.38 on torch 1.13)
        model, c = build(a.kind, config, a.impl)
    except (OSError, json.JSONDecodeError, ConfigError) as e:
        print(f"torch_models.py: {e}", file=sys.stderr)
        return 1

    size = a.size or c.get("sample_size")
    if not size:
        print("torch_models.py: the config has no sample_size; pass --size", file=sys.stderr)
        return 1
    levels = len(c["block_out_channels"]) - 1
    if size % (2 ** levels):
        print(f"torch_models.py: size {size} is not divisible by {2 ** levels}", file=sys.stderr)
        return 1

    result = {
        "kind": a.kind,
        "params": count_parameters(model),
        "batch": a.batch,
        "threads": a.threads,
        "torch_version": torch.__version__,
        "impl": a.impl,
        "bf16": a.bf16,
    }
    if a.params_only:
        print(json.dumps(result))
        return 0
    (train_ms, train_cpu_ms), (forward_ms, forward_cpu_ms) = bench(a.kind, model, c, a.batch, size, a.repeats, a.bf16)
    result.update(
        {
            "train_images_per_s": round(a.batch * 1000.0 / train_ms, 2),
            "forward_images_per_s": round(a.batch * 1000.0 / forward_ms, 2),
            # per CPU-second of this process (all its threads): robust to other load for one thread
            "train_images_per_cpu_s": round(a.batch * 1000.0 / train_cpu_ms, 2),
            "forward_images_per_cpu_s": round(a.batch * 1000.0 / forward_cpu_ms, 2),
            "train_step_ms": round(train_ms, 2),
            "forward_ms": round(forward_ms, 2),
            "size": size,
            "repeats": a.repeats,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        }
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
