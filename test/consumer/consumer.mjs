// The packages through `import` (their ESM builds), as an ES-module app uses them.
import * as tf from '@tensorflow/tfjs-core';
import * as backend from '@ldm/backend';
import * as nn from '@ldm/nn';
import * as unet from '@ldm/unet';
import * as vae from '@ldm/vae';
import * as ddpm from '@ldm/ddpm';
import * as ddim from '@ldm/ddim';
import * as pipeline from '@ldm/pipeline';
import checks from './checks.cjs';

await checks.runChecks({ tf, backend, nn, unet, vae, ddpm, ddim, pipeline }, 'esm');
