"""The Python half of the diffusers check (the project's own script; diffusers is not copied here).

Loads a pipeline folder `ldm train` wrote with `DiffusionPipeline.from_pretrained(dir)`, unchanged,
swaps in diffusers' DDIMScheduler (from the folder's scheduler config, as diffusers users do), runs the
pipeline's own __call__ from the same x_T the JavaScript side used, and prints the largest absolute
difference between diffusers' images and @ldm/pipeline's. Exits 1 above the tolerance.

    run.sh test/interop/diffusers_check.py PIPELINE_DIR NPY_DIR [steps] [tolerance]
"""
import torch_compat  # noqa: F401  (shared/tools/diffusers: torch 1.13 compatibility)
import sys

import numpy as np
import torch
from diffusers import DDIMScheduler, DiffusionPipeline
import diffusers.pipelines.ddpm.pipeline_ddpm as ddpm_module
import diffusers.pipelines.deprecated.latent_diffusion_uncond.pipeline_latent_diffusion_uncond as ldm_module

folder, npy_dir = sys.argv[1], sys.argv[2]
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 50
tolerance = float(sys.argv[4]) if len(sys.argv) > 4 else 2e-3
torch.set_num_threads(1)

pipe = DiffusionPipeline.from_pretrained(folder)
components = {k: type(v).__name__ for k, v in pipe.components.items()}
print(f"loaded {type(pipe).__name__} {components}")
pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)

x_t = np.load(f"{npy_dir}/x_T.npy")  # NHWC, as the JavaScript side drew it
ours = np.load(f"{npy_dir}/images.npy")  # NHWC in [0, 1]
latents = torch.from_numpy(np.ascontiguousarray(x_t.transpose(0, 3, 1, 2)))

# Neither pipeline's __call__ takes x_T, so hand ours to the randn_tensor each one calls.
def given_noise(shape, generator=None, device=None, dtype=None, layout=None):
    assert tuple(shape) == tuple(latents.shape), f"pipeline asked for noise {tuple(shape)}, x_T is {tuple(latents.shape)}"
    return latents.clone()

ldm_module.randn_tensor = given_noise
ddpm_module.randn_tensor = given_noise
kwargs = {"eta": 0.0} if type(pipe).__name__ == "LDMPipeline" else {}
with torch.no_grad():
    theirs = pipe(batch_size=latents.shape[0], num_inference_steps=steps, output_type="np", **kwargs).images

print(f"diffusers images {theirs.shape}, @ldm/pipeline images {ours.shape}")
diff = float(np.max(np.abs(theirs.astype(np.float64) - ours.astype(np.float64))))
print(f"DDIM-{steps}, eta 0, same x_T: max |diffusers - @ldm/pipeline| = {diff:.3g} (tolerance {tolerance:g}); "
      f"mean |diff| {float(np.mean(np.abs(theirs - ours))):.3g}; image std {float(np.std(ours)):.3g}")
# The other direction: a folder diffusers saves (its DDIMScheduler config included) for @ldm/pipeline to load.
# The offline huggingface_hub stand-in (shared/tools/diffusers/shims) has no shard splitter: give
# save_pretrained the one-file answer the real one gives for a model this small.
import types
import diffusers.models.modeling_utils as modeling_utils

def one_shard(state_dict, filename_pattern, **_):
    name = filename_pattern.format(suffix="")
    return types.SimpleNamespace(filename_to_tensors={name: list(state_dict)}, is_sharded=False, metadata={}, tensor_to_filename={k: name for k in state_dict})

modeling_utils.split_torch_state_dict_into_shards = one_shard
np.save(f"{npy_dir}/diffusers-images.npy", theirs.astype(np.float32))
pipe.save_pretrained(f"{npy_dir}/diffusers-saved")
print(f"saved with diffusers' save_pretrained: {npy_dir}/diffusers-saved")
sys.exit(0 if diff <= tolerance else 1)
