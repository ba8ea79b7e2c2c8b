/**
 * Every option's default in one place. Sized so that each command runs on the embedded MNIST on
 * 2 CPU cores in minutes (the full `ldm demo` within 15: its latent DDPM fills what that budget leaves).
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
    /**
     * 'global' (one scaling factor, as LDM and diffusers). 'channel' standardizes each latent channel (spreads
     * 0.61–1.57 under one factor, issue 14) but measured worse: DDIM-50 FID 233 against 211 (apps/cli/README.md).
     */
    latentNorm: 'global' as 'channel' | 'global',
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
  /**
   * The recipe of `ldm demo` (issue 14), chosen by measurement: apps/cli/README.md has the variants measured,
   * with the command of each. The latent DDPM gets what the ~15-minute budget leaves after the VAE.
   */
  demo: {
    out: 'runs/demo',
    /**
     * The diffusion VAE's steps. 600, not 300: its reconstructions score FID 97 against 108 and the latent DDPM trained
     * on it for the same total time (8,240 steps against 9,018) DDIM-50 128 against 150 (mean of 5 splits); 1,000 steps
     * (7,350 DDPM steps) scored 133.
     */
    vaeSteps: 600,
    /**
     * The single-step baseline trained as a generator (β = 1, the primer's ELBO). It trains in a child process on
     * the second core beside the diffusion VAE and the latent DDPM, for about two thirds of their time together
     * (1,200 × 32 at ~95 img/s ≈ 400 s against ≈ 600 s): the two cores share memory bandwidth, so while it runs the
     * latent DDPM trains about 19 % slower (measured: 378 → 305 img/s), and a longer run would cost the DDPM steps.
     */
    generatorVaeSteps: 1200,
    generatorKlWeight: 1,
    /**
     * The whole demo's wall-clock budget (issue 14: 15 minutes on 2 idle cores). The latent DDPM's steps are sized to it
     * on the machine that runs it (the DDPM's steps are what pays): a timing probe after stage 1 measures its steps a
     * second, and it gets what the budget leaves once stage 4's estimated time and the margin are set aside. The same
     * recipe at a fixed step count took 702 s at 4,400 steps on one host and 494 s on a faster one, so no fixed count
     * fits both. `ldm demo --ddpm-steps N` pins the count (the same run on any machine).
     */
    budgetSeconds: 900,
    /**
     * Kept free of the budget: the probe's estimate moves by a few per cent, a host's speed by more over minutes. With 60 s
     * a run whose probe said 17.4 steps/s and which then ran 16.5 ended at 890 s, too close to 900.
     */
    budgetMarginSeconds: 90,
    /**
     * Stage 4 (ldm compare, its DDPM-1000 row in a child on the second core) in units of the latent DDPM's training steps
     * on the same host: 89 s at 12.5 steps/s (1,110) and 128 s at 9.4 steps/s (1,200), measured; rounded up.
     */
    compareInDdpmSteps: 1300,
    /** Fewest latent DDPM steps a budget may size (a slower host then runs over the budget, and says so). */
    minDdpmSteps: 1000,
    /**
     * Steps of the timing probe that sizes the latent DDPM (its rate is taken after its first 20, which build the kernels).
     * 60 steps measured 13.3 and, an hour later, 16.6 steps/s beside stage 3: a few seconds are a noisy sample of a
     * shared host, and an estimate above the run's rate overruns the budget, so the probe averages over about 8 s.
     */
    ddpmProbeSteps: 120,
    /**
     * The latent UNet's architecture, over @ldm/unet's LATENT_UNET_CONFIG (written to `<out>/latent-unet.json`, the
     * `--model-config` of stage 2): no self-attention. At 4×4 it costs a quarter of a training step (1.33× the steps
     * a second without it, in 120-step probes) and does not pay in a fixed time: 4,800 steps without it against 3,600
     * with it score DDIM-50 FID 182 / 195 against 181 / 208 at η = 0 and 145 / 151 against 156 / 178 at η = 1 (split
     * seeds 0 / 1, apps/cli/README.md rows 17–18).
     */
    latentUnet: {
      downBlockTypes: ['DownBlock2D', 'DownBlock2D'],
      upBlockTypes: ['UpBlock2D', 'UpBlock2D'],
      addAttention: false,
    },
    /**
     * 2e-3 once the budget gives the DDPM 8,000-odd steps: at 8,400 steps it scores DDIM-50 FID 147 / 153 against 3e-3's
     * 159 / 168 (split seeds 0 / 1; η = 1: 127 / 135 against 136 / 137). At 1,000 steps 3e-3 had paid most (424 against 554).
     */
    ddpmLearningRate: 2e-3,
    /**
     * The DDPM stages' convolutions in bfloat16 with float32 accumulation where the CPU has bfloat16 dot products; the
     * VAEs and stage 4 (sampling, timing) stay float32. The latent DDPM trains 1.3–1.4× faster (200-step probes, 838–872
     * img/s against 1,119–1,179) and its loss follows float32's to 4 digits over 8,400 steps. The VAE does not take it:
     * in bfloat16 its held-out ELBO went from 2.33 to 2.78 bits/dim and its reconstructions' FID from 108 to 136.
     */
    ddpmPrecision: 'bf16' as 'bf16' | 'f32',
    minSnrGamma: 5 as number | undefined,
    /**
     * v-prediction (Salimans & Ho 2022) rather than ε: at the same 2,800 steps, DDIM-50 FID 198 against 235 at n = 1,000,
     * and DDIM-50 (η = 0) 198 against DDPM-1000 200 (apps/cli/README.md, row 8).
     */
    predictionType: 'v_prediction' as 'epsilon' | 'v_prediction' | 'sample',
    /**
     * Samples per method in the report. The report's DDPM-1000 row costs 1,000 UNet calls a sample, so 100 keeps
     * the report within the budget; FID at n = 100 sits higher than at issue 14's n = 500 (compare the floors).
     */
    compareCount: 100,
    compareSteps: '1,2,5,10,20,50,100',
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
  /** `ldm serve`: loopback only unless --host says otherwise. The page samples with wasm unless its form says otherwise. */
  serve: { host: '127.0.0.1', port: 8080 },
} as const;
