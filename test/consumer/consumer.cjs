// The packages through `require` (their CommonJS builds), as a CommonJS app uses them.
'use strict';
const { runChecks } = require('./checks.cjs');

runChecks(
  {
    tf: require('@tensorflow/tfjs-core'),
    backend: require('@ldm/backend'),
    nn: require('@ldm/nn'),
    unet: require('@ldm/unet'),
    vae: require('@ldm/vae'),
    ddpm: require('@ldm/ddpm'),
    ddim: require('@ldm/ddim'),
    pipeline: require('@ldm/pipeline'),
  },
  'cjs',
).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
