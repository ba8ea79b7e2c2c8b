import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@ldm/backend';
import { gaussianMixtureDenoiser, sample } from '@ldm/ddpm';
import { DDIMScheduler, ddimInvert, slerp } from '@ldm/ddim';

await initBackend({ backend: 'wasm' });
const scheduler = new DDIMScheduler({ clipSample: false, timestepSpacing: 'linspace' });
scheduler.setTimesteps(50);
const mixture = {
  weights: [0.5, 0.5],
  means: [
    [-2, -2],
    [2, 2],
  ],
  variances: [0.25, 0.25],
};
const denoiser = gaussianMixtureDenoiser(mixture, scheduler.schedule.alphasCumprod);
const x0 = sample({ denoiser, scheduler, shape: [8, 2], seed: 0, eta: 0 });
const xT = ddimInvert({ denoiser, scheduler, x0 }); // deterministic encoding
const back = sample({ denoiser, scheduler, shape: [8, 2], initialNoise: xT }); // ≈ x0
const mid = slerp(tf.slice(xT, [0, 0], [1, 2]), tf.slice(xT, [1, 0], [1, 2]), 0.5);
console.log(tf.tidy(() => tf.mean(tf.squaredDifference(back, x0)).dataSync()[0]));
tf.dispose([x0, xT, back, mid]);
