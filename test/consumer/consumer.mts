// Type-checked with `strict` and `moduleResolution: nodenext` against the installed .d.ts files: every
// package's types must resolve (no workspace-only imports) and the public API must be usable as written.
import type * as tf from '@tensorflow/tfjs-core';
import { Generator, initBackend, LdmError, randn } from '@ldm/backend';
import type { BackendInfo } from '@ldm/backend';
import { loadModelFolderInto } from '@ldm/nn';
import { LATENT_UNET_CONFIG, UNet2DModel } from '@ldm/unet';
import { AutoencoderKL, DEFAULT_VAE_CONFIG } from '@ldm/vae';
import { DDPMScheduler, sample, trainDDPM } from '@ldm/ddpm';
import type { TrainDDPMOptions } from '@ldm/ddpm';
import { DDIMScheduler } from '@ldm/ddim';
import { loadMnist, writeImageGrid } from '@ldm/data';
import type { ImageDataset } from '@ldm/data';
import { fid } from '@ldm/eval';
import { DDPMPipeline, LatentDiffusionPipeline, loadPipeline } from '@ldm/pipeline';
import type { GenerateOptions, GenerateResult, ModelIndex } from '@ldm/pipeline';

export async function example(dir: string): Promise<tf.Tensor4D> {
  const info: BackendInfo = await initBackend({ backend: 'wasm' });
  const unet = new UNet2DModel({ ...LATENT_UNET_CONFIG, sampleSize: 8 }, new Generator(info.name.length));
  const vae = new AutoencoderKL({ ...DEFAULT_VAE_CONFIG });
  const data: ImageDataset = { images: new Float32Array(8 * 8 * 4), shape: [1, 8, 8, 4], name: 'x' };
  const options: TrainDDPMOptions = {
    model: unet,
    data,
    runDir: dir,
    steps: 1,
    batchSize: 1,
    learningRate: 1e-4,
    seed: 0,
    checkpointEvery: 1,
    saveModel: (d) => unet.save(d),
    loadModel: (d) => loadModelFolderInto(unet, d),
  };
  const trained = await trainDDPM(options);
  trained.ema.dispose();
  const scheduler = new DDIMScheduler({});
  scheduler.setTimesteps(10);
  const x0: tf.Tensor = sample({ denoiser: (x, t) => unet.forward(x as tf.Tensor4D, t), scheduler, shape: [1, 8, 8, 4], seed: 1 });
  x0.dispose();
  const schedulerConfig = new DDPMScheduler({ clipSample: false }).toConfig();
  const latent = new LatentDiffusionPipeline({ vae, unet, schedulerConfig });
  await latent.save(dir);
  const again = await loadPipeline(dir);
  const latents: tf.Tensor4D = randn([1, 8, 8, 4], new Generator(2)) as tf.Tensor4D;
  const request: GenerateOptions = {
    count: 1,
    sampler: 'ddim',
    steps: 5,
    eta: 0,
    seed: 0,
    batchSize: 1,
    latents,
    onStep: (done: number, total: number) => void (done / total),
  };
  const result: GenerateResult = again.generate(request);
  const prior: GenerateResult = latent.decodeFromPrior({ count: 1 });
  prior.images.dispose();
  const pixel: DDPMPipeline = new DDPMPipeline({ unet, schedulerConfig });
  void pixel;
  const index: ModelIndex | undefined = undefined;
  void index;
  await writeImageGrid(`${dir}/grid.png`, result.images);
  void loadMnist;
  void fid;
  if (!(result.images.rank === 4)) throw new LdmError('INVALID_ARGUMENT', 'rank');
  return result.images;
}
