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
    steps: 1500,
    batchSize: 32,
    learningRate: 1e-3,
    klWeight: 1e-3,
    klWarmupSteps: 300,
    checkpointEvery: 250,
    sampleEvery: 500,
    maxGradNorm: 1,
  },
  ddpm: {
    out: 'runs/latent-ddpm',
    space: 'latent' as 'latent' | 'pixel',
    steps: 4000,
    batchSize: 64,
    learningRate: 1e-3,
    warmupSteps: 200,
    emaMaxDecay: 0.999,
    predictionType: 'epsilon' as 'epsilon' | 'v_prediction' | 'sample',
    betaSchedule: 'linear' as 'linear' | 'scaled_linear' | 'squaredcos_cap_v2' | 'sigmoid',
    numTrainTimesteps: 1000,
    checkpointEvery: 500,
    sampleEvery: 1000,
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
