/*
 * The JavaScript half of the diffusers check: loads a pipeline folder with @ldm/pipeline, draws x_T,
 * and writes x_T and DDIM's images (η = 0) as .npy files for diffusers_check.py to compare.
 *   node --conditions=@ldm/source --import tsx test/interop/ldm-generate.ts PIPELINE_DIR OUT_DIR [count] [steps] [EXPECTED.npy]
 * With EXPECTED.npy (diffusers' images from the same x_T) it prints the largest difference and exits 1 above 2e-3.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Generator, initBackend, randn } from '@ldm/backend';
import { readNpy, writeNpy } from '@ldm/data';
import { loadPipeline } from '@ldm/pipeline';

const [dir, out, countArg = '4', stepsArg = '50', expected] = process.argv.slice(2);
if (!dir || !out) throw new Error('usage: ldm-generate.ts PIPELINE_DIR OUT_DIR [count] [steps]');
const count = Number(countArg);
const steps = Number(stepsArg);
await initBackend({ backend: 'wasm' });
const pipeline = await loadPipeline(dir);
const [h, w, c] = pipeline.sampleShape;
const latents = randn([count, h, w, c], new Generator(1234)) as tf.Tensor4D;
const { images } = pipeline.generate({ latents, sampler: 'ddim', steps, eta: 0 });
await writeNpy(join(out, 'x_T.npy'), latents.dataSync() as Float32Array, latents.shape);
await writeNpy(join(out, 'images.npy'), images.dataSync() as Float32Array, images.shape);
console.log(`${pipeline.constructor.name}: x_T [${latents.shape.join(', ')}], images [${images.shape.join(', ')}] → ${out}`);
if (expected) {
  const theirs = (await readNpy(expected)).data;
  const ours = images.dataSync();
  let max = 0;
  for (let i = 0; i < ours.length; i++) max = Math.max(max, Math.abs(ours[i]! - theirs[i]!));
  console.log(`fromPretrained(folder diffusers saved), DDIM-${steps} from the same x_T: max |@ldm/pipeline - diffusers| = ${max.toExponential(3)}`);
  if (!(max <= 2e-3) || theirs.length !== ours.length) process.exitCode = 1;
}
tf.dispose([latents, images]);
pipeline.dispose();
