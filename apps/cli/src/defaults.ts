/**
 * Every option's default in one place. Sized so that each command runs on the embedded MNIST on
 * 2 CPU cores in minutes (the full `ldm demo` in about 15).
 */
export const DEFAULTS = {
  seed: 0,
  data: 'mnist',
  heldOut: 0.1,
  vae: {
    out: 'runs/vae',
    steps: 300,
    batchSize: 32,
    learningRate: 2e-3,
    klWeight: 0.1,
    klWarmupSteps: 100,
    checkpointEvery: 100,
    sampleEvery: 100,
    maxGradNorm: 1,
  },
  ddpm: {
    out: 'runs/latent-ddpm',
    space: 'latent' as 'latent' | 'pixel',
    steps: 1000,
    batchSize: 64,
    learningRate: 1.5e-3,
    warmupSteps: 100,
    emaMaxDecay: 0.999,
    predictionType: 'epsilon' as 'epsilon' | 'v_prediction' | 'sample',
    betaSchedule: 'linear' as 'linear' | 'scaled_linear' | 'squaredcos_cap_v2' | 'sigmoid',
    numTrainTimesteps: 1000,
    checkpointEvery: 200,
    sampleEvery: 400,
    maxGradNorm: 1,
  },
  sample: {
    sampler: 'ddim' as 'ddpm' | 'ddim' | 'vae',
    ddimSteps: 50,
    ddpmSteps: 1000,
    eta: 0,
    count: 64,
    batchSize: 64,
    out: 'samples.png',
  },
} as const;
