import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { oneDnnBf16UnavailableReason } from '@ldm/backend';
import type { BackendInfo, ConvPrecision } from '@ldm/backend';
import type { DemoArgs } from '../options/demo';
import { givenExplicitly } from '../options/check';
import type { TrainArgs } from '../options/train';
import { trainVaeOptions } from '../options/train-vae';
import { toy2dOptions } from '../options/toy2d';
import type { TrainVaeArgs } from '../options/train-vae';
import { globalOptions } from '../options/global';
import { commandLine } from '../options/command-line';
import { DEFAULTS } from '../defaults';
import { exists, readJson, startBackend, writeJson } from './common';
import { trainDdpmJob } from './train-ddpm-job';
import { trainVaeJob } from './train-vae-job';
import { startBackgroundCommand } from './background-command';
import type { BackgroundCommand } from './background-command';
import { cpuStealSeconds, stolenCores } from './cpu-steal';

/**
 * Sizes of the demo: the full run (within 15 minutes on 2 cores, 12.6 measured: the latent DDPM's steps fill what
 * DEFAULTS.demo.budgetSeconds leaves; the recipe is DEFAULTS.demo) and `--quick` (about a minute, for tests).
 * `--full` adds a pixel DDPM trained for the latent DDPM's wall-clock.
 */
export const DEMO_SIZES = {
  full: {
    vaeSteps: DEFAULTS.demo.vaeSteps,
    generatorVaeSteps: DEFAULTS.demo.generatorVaeSteps,
    /** Sized to the time budget on the machine that runs it (ddpmStepsForBudget). */
    ddpmSteps: undefined,
    /** The DDPM sampler's steps in the report (ldm compare: 1000, or 100 with --quick). */
    ddpmSamplingSteps: 1000,
    compareCount: DEFAULTS.demo.compareCount,
    compareSteps: DEFAULTS.demo.compareSteps,
    limit: undefined,
  },
  quick: { vaeSteps: 20, generatorVaeSteps: 20, ddpmSteps: 30, ddpmSamplingSteps: 100, compareCount: 16, compareSteps: '1,5,50', limit: 600 },
} as const;

/** Steps of the timing probe that sizes the pixel DDPM of `--full` (equal wall-clock with the latent one). */
const PIXEL_PROBE_STEPS = 12;

/**
 * The latent DDPM's steps that fill the demo's time budget on this machine: `stepsPerSecond` from a timing probe,
 * `elapsedSeconds` already spent (stage 1 and the probe). Stage 4's time is estimated in DDPM steps of this host.
 */
export function ddpmStepsForBudget(
  stepsPerSecond: number,
  elapsedSeconds: number,
  demo: { budgetSeconds: number; budgetMarginSeconds: number; compareInDdpmSteps: number; minDdpmSteps: number } = DEFAULTS.demo,
): number {
  const left = demo.budgetSeconds - demo.budgetMarginSeconds - elapsedSeconds;
  return Math.max(demo.minDdpmSteps, Math.floor(left * stepsPerSecond - demo.compareInDdpmSteps));
}

/**
 * What the DDPM stages' convolutions compute in: DEFAULTS.demo.ddpmPrecision where this machine can (the native
 * backend on a CPU with bfloat16 dot products), unless --precision was given; else float32, saying why.
 */
function ddpmPrecisionOf(args: DemoArgs, backend: BackendInfo): ConvPrecision {
  if (givenExplicitly('precision') || DEFAULTS.demo.ddpmPrecision === 'f32') return args.precision;
  const why = backend.name === 'native' ? oneDnnBf16UnavailableReason() : `the ${backend.name} backend has no bfloat16 path`;
  if (why) {
    process.stderr.write(`DDPM stages: float32 (${why})\n`);
    return 'f32';
  }
  process.stderr.write('DDPM stages: convolutions in bfloat16 with float32 accumulation; the VAEs train in float32 (--precision f32: all in float32)\n');
  return DEFAULTS.demo.ddpmPrecision;
}

/**
 * Steps a second of a training run after its first logged steps, from the times its metrics log records: the first
 * steps build every kernel, and a 40-step probe's overall rate (12.0 steps/s) sat 10–20 % under the run it sized.
 */
export async function steadyStepsPerSecond(metricsPath: string): Promise<number | undefined> {
  const rows = (await readFile(metricsPath, 'utf8'))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { step: number; time: string });
  if (rows.length < 3) return undefined;
  const from = rows[1]!;
  const to = rows.at(-1)!;
  const seconds = (Date.parse(to.time) - Date.parse(from.time)) / 1000;
  return seconds > 0 ? (to.step - from.step) / seconds : undefined;
}

interface StageTime {
  stage: string;
  seconds: number;
  detail?: Record<string, unknown>;
}

/**
 * `ldm demo`: the main job end to end on the embedded MNIST. Each stage writes its folder; with
 * --resume a finished stage is skipped and an interrupted one continues from its checkpoint.
 */
export async function demoJob(args: DemoArgs): Promise<void> {
  const size = args.quick ? DEMO_SIZES.quick : DEMO_SIZES.full;
  const backend = await startBackend(args);
  const ddpmPrecision = ddpmPrecisionOf(args, backend);
  const vaeDir = join(args.out, 'vae');
  const ddpmDir = join(args.out, 'latent-ddpm');
  const generatorDir = join(args.out, 'vae-generator');
  const pixelDir = join(args.out, 'pixel-ddpm');
  const times: StageTime[] = [];
  const log = (message: string) => process.stderr.write(`\n== ${message}\n`);

  // The arguments of both VAE stages: stage 1 trains in this process, stage 3 in a child from the same arguments.
  const vaeStageArgs = async (dir: string, steps: number, klWeight: number, latentNorm: 'channel' | 'global', quiet: boolean): Promise<TrainVaeArgs> => ({
    backend: args.backend,
    precision: args.precision,
    data: DEFAULTS.data,
    out: dir,
    steps,
    batchSize: DEFAULTS.vae.batchSize,
    lr: DEFAULTS.vae.learningRate,
    klWeight,
    latentNorm,
    klWarmup: Math.min(DEFAULTS.vae.klWarmupSteps, Math.floor(steps / 2)),
    heldOut: DEFAULTS.heldOut,
    checkpointEvery: Math.min(DEFAULTS.vae.checkpointEvery, steps),
    sampleEvery: Math.min(DEFAULTS.vae.sampleEvery, steps),
    maxGradNorm: DEFAULTS.vae.maxGradNorm,
    seed: args.seed,
    threads: args.threads,
    limit: size.limit,
    resume: args.resume && (await exists(join(dir, 'training', 'checkpoints'))),
    force: false,
    modelConfig: undefined,
    verbose: args.verbose,
    quiet,
  });

  // The arguments of both DDPM stages (the latent DDPM and --full's pixel DDPM) and of their timing probes.
  const ddpmStageArgs = (space: 'latent' | 'pixel', out: string, steps: number, modelConfig?: string): TrainArgs => ({
    backend: args.backend,
    precision: ddpmPrecision,
    space,
    vae: space === 'latent' ? vaeDir : undefined,
    data: DEFAULTS.data,
    out,
    steps,
    batchSize: DEFAULTS.ddpm.batchSize,
    lr: DEFAULTS.demo.ddpmLearningRate,
    minSnrGamma: DEFAULTS.demo.minSnrGamma,
    warmup: Math.min(DEFAULTS.ddpm.warmupSteps, Math.floor(steps / 4)),
    emaDecay: DEFAULTS.ddpm.emaMaxDecay,
    predictionType: DEFAULTS.demo.predictionType,
    betaSchedule: DEFAULTS.ddpm.betaSchedule,
    heldOut: DEFAULTS.heldOut,
    checkpointEvery: Math.min(DEFAULTS.ddpm.checkpointEvery, steps),
    sampleEvery: Math.min(DEFAULTS.ddpm.sampleEvery, steps),
    maxGradNorm: DEFAULTS.ddpm.maxGradNorm,
    seed: args.seed,
    threads: args.threads,
    limit: size.limit,
    resume: false,
    force: false,
    modelConfig,
    verbose: args.verbose,
    quiet: false,
  });

  // A short run of a DDPM stage's training in a scratch folder: its steps a second on this machine (undefined on Ctrl-C).
  const probeStepsPerSecond = async (space: 'latent' | 'pixel', steps: number, modelConfig?: string): Promise<number | undefined> => {
    const probeDir = await mkdtemp(join(tmpdir(), `ldm-${space}-probe-`));
    try {
      const probe = await trainDdpmJob({
        ...ddpmStageArgs(space, probeDir, steps, modelConfig),
        sampleEvery: steps + 1,
        checkpointEvery: steps + 1,
        quiet: true,
      });
      if (probe.interrupted) return undefined;
      // Too short a run to log past its first steps (the pixel probe's 12) keeps its overall rate.
      return (await steadyStepsPerSecond(join(probeDir, 'training', 'metrics.jsonl'))) ?? probe.imagesPerSecond / DEFAULTS.ddpm.batchSize;
    } finally {
      await rm(probeDir, { recursive: true, force: true });
    }
  };

  const trainVaeStage = async (dir: string, steps: number, klWeight: number, latentNorm: 'channel' | 'global', what: string): Promise<boolean> => {
    const vaeArgs = await vaeStageArgs(dir, steps, klWeight, latentNorm, false);
    const t = performance.now();
    const summary = await trainVaeJob(vaeArgs);
    times.push({ stage: what, seconds: (performance.now() - t) / 1000, detail: { ...summary } });
    return !summary.interrupted;
  };

  // 3 starts first, in a child process on the second core: the fair single-step baseline, a VAE trained as a
  // generator (β = 1), for about two thirds of stages 1–2's time. It needs nothing from stages 1–2, and the native kernels
  // run one thread per process (a second thread inside each op did not pay on these models).
  const t0 = performance.now();
  const steal0 = cpuStealSeconds();
  let generator: { stage: BackgroundCommand; started: number } | undefined;
  if (await exists(join(generatorDir, 'latent_stats.json'))) {
    log(`stage 3/4: generator VAE already trained in ${generatorDir}, skipped`);
  } else {
    const steps = size.generatorVaeSteps;
    const logPath = join(args.out, 'logs', 'train-vae-generator.log');
    log(`stage 3/4 (beside stages 1–2, in a child process): train a VAE as a generator (β = 1, the ELBO) for the single-step baseline; log: ${logPath}`);
    // 'global': this VAE is judged by decoding its own N(0, I) prior; folding a standardization into it would move that prior.
    // One thread: it runs beside stages 1–2 on the other core.
    const generatorArgs = { ...(await vaeStageArgs(generatorDir, steps, DEFAULTS.demo.generatorKlWeight, 'global', true)), threads: 1 };
    const cliArgs = commandLine('train-vae', { ...globalOptions, ...trainVaeOptions }, generatorArgs);
    generator = { stage: await startBackgroundCommand(cliArgs, logPath), started: performance.now() };
  }
  // The report's 2-D panel (about a minute) is independent of every stage: a child builds it on the second core once
  // the generator VAE is done with that core, while stage 2 still trains, so stage 4 only reads it.
  const toyPanelPath = join(args.out, 'toy2d.json');
  let ending = false;
  const toyLogPath = join(args.out, 'logs', 'toy2d.log');
  let toyPanel: { started: Promise<BackgroundCommand | undefined> } | undefined;
  if (!(await exists(toyPanelPath))) {
    const toyArgs = commandLine(
      'toy2d',
      { ...globalOptions, ...toy2dOptions },
      { backend: args.backend, precision: args.precision, verbose: args.verbose, out: toyPanelPath, seed: args.seed, quick: args.quick },
    );
    const after = generator ? generator.stage.done.catch(() => {}) : Promise.resolve();
    // Not started once the demo is ending (interrupted, or failed, before the generator finished).
    toyPanel = { started: after.then(() => (ending ? undefined : startBackgroundCommand(toyArgs, toyLogPath))) };
  }
  // The panel for stage 4: its file once the child has written it; undefined (stage 4 builds it) if the child failed.
  const finishToyPanel = async (): Promise<string | undefined> => {
    if (!toyPanel) return (await exists(toyPanelPath)) ? toyPanelPath : undefined;
    const { started } = toyPanel;
    toyPanel = undefined;
    try {
      await (await started)?.done;
      return toyPanelPath;
    } catch (error) {
      log(`the 2-D panel's child failed (${(error as Error).message}); stage 4 builds it itself`);
      return undefined;
    }
  };
  // Records stage 3 once its child has finished; throws (one line, naming its log) if it failed.
  const finishGenerator = async (): Promise<void> => {
    if (!generator) return;
    const { stage, started } = generator;
    generator = undefined;
    await stage.done;
    const detail = await readJson<{ seconds: number } & Record<string, unknown>>(join(generatorDir, 'training', 'summary.json'));
    // Its own training time (it ran beside stages 1–2), and when this process had it back.
    times.push({
      stage: 'train-vae-generator',
      seconds: detail.seconds,
      detail: { ...detail, concurrent: true, waitedSeconds: (performance.now() - started) / 1000 },
    });
  };
  try {
    await mainStages();
  } finally {
    ending = true;
    // Interrupted or failed before stage 4: stop the children (the generator checkpoints) and wait for them.
    if (generator) {
      generator.stage.stop();
      await generator.stage.done.catch(() => {});
    }
    if (toyPanel) {
      const child = await toyPanel.started.catch(() => undefined); // settles once the generator has stopped; undefined if not started
      child?.stop();
      await child?.done.catch(() => {});
    }
  }

  async function mainStages(): Promise<void> {
    // 1. The VAE for diffusion (small KL weight) and its scaling factor.
    if (await exists(join(vaeDir, 'latent_stats.json'))) {
      log(`stage 1/4: VAE already trained in ${vaeDir}, skipped`);
    } else {
      log('stage 1/4: train the VAE, then measure its latent scaling factor');
      if (!(await trainVaeStage(vaeDir, size.vaeSteps, DEFAULTS.vae.klWeight, DEFAULTS.vae.latentNorm, 'train-vae'))) return;
    }

    // 2. The latent DDPM.
    if (await exists(join(ddpmDir, 'unet', 'config.json'))) {
      log(`stage 2/4: latent DDPM already trained in ${ddpmDir}, skipped`);
    } else {
      log('stage 2/4: train the DDPM in the VAE latent space');
      // The architecture is the recipe's, in a file like any --model-config (a resumed run reads the one it started with).
      const latentUnetPath = join(args.out, 'latent-unet.json');
      if (!(await exists(latentUnetPath))) await writeJson(latentUnetPath, DEFAULTS.demo.latentUnet);
      // A short run of the same training in a scratch folder measures this machine's steps a second, beside the
      // generator VAE as the real run will be; the budget gives the latent DDPM what stage 4 and the margin leave.
      let sizing: { probeStepsPerSecond: number; elapsedSeconds: number } | undefined;
      const stepsForBudget = async (): Promise<number | undefined> => {
        const probeSteps = DEFAULTS.demo.ddpmProbeSteps;
        const stepsPerSecond = await probeStepsPerSecond('latent', probeSteps, latentUnetPath);
        if (stepsPerSecond === undefined) return undefined;
        const elapsedSeconds = (performance.now() - t0) / 1000;
        const sized = ddpmStepsForBudget(stepsPerSecond, elapsedSeconds);
        sizing = { probeStepsPerSecond: stepsPerSecond, elapsedSeconds };
        const { budgetSeconds, budgetMarginSeconds, compareInDdpmSteps, minDdpmSteps } = DEFAULTS.demo;
        process.stderr.write(
          `latent DDPM: ${stepsPerSecond.toFixed(1)} steps/s in a ${probeSteps}-step probe, ${elapsedSeconds.toFixed(0)} s spent: ${sized} steps ` +
            `(≈ ${(sized / stepsPerSecond).toFixed(0)} s) leave ≈ ${(compareInDdpmSteps / stepsPerSecond).toFixed(0)} s for stage 4 and ${budgetMarginSeconds} s ` +
            `of the ${budgetSeconds / 60}-minute budget${sized === minDdpmSteps ? ' (the fewest the demo trains: this machine runs over the budget)' : ''}; ` +
            '--ddpm-steps N pins the count\n',
        );
        return sized;
      };
      const resume = args.resume && (await exists(join(ddpmDir, 'training', 'checkpoints')));
      // A resumed run keeps the steps it was sized to (its run.json); else --ddpm-steps, --quick's, or the budget's.
      const stored = resume ? (await readJson<{ args: { steps: number } }>(join(ddpmDir, 'training', 'run.json'))).args.steps : undefined;
      const steps = stored ?? args.ddpmSteps ?? size.ddpmSteps ?? (await stepsForBudget());
      if (steps === undefined) return; // Ctrl-C during the probe
      const ddpmArgs: TrainArgs = { ...ddpmStageArgs('latent', ddpmDir, steps, latentUnetPath), resume };
      const t = performance.now();
      const summary = await trainDdpmJob(ddpmArgs);
      times.push({ stage: 'train-latent-ddpm', seconds: (performance.now() - t) / 1000, detail: { ...summary, ...sizing } });
      if (summary.interrupted) return;
    }

    // 3. Wait for the generator VAE (started first, beside stages 1–2).
    if (generator) log('stage 3/4: waiting for the generator VAE to finish');
    await finishGenerator();

    // --full: a pixel DDPM given the latent DDPM's training wall-clock (its step count from a short timing probe).
    if (args.full && !(await exists(join(pixelDir, 'unet', 'config.json')))) {
      log("--full: train a pixel DDPM for the latent DDPM's wall-clock");
      const latentStage = times.find((x) => x.stage === 'train-latent-ddpm');
      const latentSeconds = latentStage
        ? Number(latentStage.detail?.seconds)
        : Number((await readJson<{ seconds: number }>(join(ddpmDir, 'training', 'summary.json'))).seconds);
      const pixelStepsPerSecond = await probeStepsPerSecond('pixel', PIXEL_PROBE_STEPS);
      if (pixelStepsPerSecond === undefined) return;
      const probeImagesPerSecond = pixelStepsPerSecond * DEFAULTS.ddpm.batchSize;
      const pixelSteps = Math.max(PIXEL_PROBE_STEPS, Math.round(latentSeconds * pixelStepsPerSecond));
      process.stderr.write(
        `pixel DDPM: ${probeImagesPerSecond.toFixed(1)} img/s in a ${PIXEL_PROBE_STEPS}-step probe; ${pixelSteps} steps ≈ the latent DDPM's ${latentSeconds.toFixed(0)} s\n`,
      );
      const t = performance.now();
      const summary = await trainDdpmJob(ddpmStageArgs('pixel', pixelDir, pixelSteps));
      times.push({
        stage: 'train-pixel-ddpm',
        seconds: (performance.now() - t) / 1000,
        detail: { ...summary, probeImagesPerSecond, latentSeconds },
      });
      if (summary.interrupted) return;
    }

    // 4. The comparison report; its samples (the first 64 of each method) are the demo's grids, not drawn twice.
    log('stage 4/4: sample with every method (DDPM, DDIM, single-step VAE decoding, baselines), compare them, write the report');
    const toyPanelFile = await finishToyPanel();
    const t = performance.now();
    const { compareJob } = await import('./compare-job');
    await compareJob({
      backend: args.backend,
      precision: args.precision,
      vae: vaeDir,
      latent: ddpmDir,
      generatorVae: generatorDir,
      pixel: args.full ? pixelDir : undefined,
      out: join(args.out, 'report'),
      n: size.compareCount,
      steps: size.compareSteps.split(',').map(Number),
      repeats: args.quick ? 1 : 3,
      seed: args.seed,
      quick: args.quick,
      limit: size.limit,
      toyPanel: toyPanelFile,
      verbose: args.verbose,
    });
    times.push({ stage: 'compare', seconds: (performance.now() - t) / 1000, detail: { samplesPerMethod: size.compareCount } });
    const grids: Record<string, string> = {};
    for (const [name, method] of [
      [`latent-ddpm-${size.ddpmSamplingSteps}`, `latent-ddpm-${size.ddpmSamplingSteps}`],
      ['latent-ddim-50', 'latent-ddim-50'],
      ['vae-decode', 'vae-1'],
      ['vae-generator-decode', 'vae-generator-1'],
      ...(args.full ? [['pixel-ddim-50', 'pixel-ddim-50'] as const] : []),
    ] as const) {
      const source = join(args.out, 'report', 'grid-sources', `${method}.png`);
      if (!(await exists(source))) continue;
      grids[name] = join(args.out, 'samples', `${name}.png`);
      await mkdir(dirname(grids[name]!), { recursive: true });
      await copyFile(source, grids[name]!);
    }

    // Wall-clock: stage 3 ran beside stages 1–2, so the stages' times add up to more.
    const totalSeconds = (performance.now() - t0) / 1000;
    // On a shared virtual machine the hypervisor can take CPU time from us: say so beside the wall-clock.
    const cpuStolenCores = stolenCores(steal0, totalSeconds);
    const summary = { backend: backend.name, quick: args.quick, seed: args.seed, stages: times, grids, totalSeconds, cpuStolenCores: cpuStolenCores ?? null };
    await writeJson(join(args.out, 'summary.json'), summary);
    const steal =
      cpuStolenCores === undefined
        ? ''
        : cpuStolenCores > 0.05
          ? `\nthe hypervisor took ${cpuStolenCores.toFixed(2)} cores on average (CPU steal in /proc/stat), so an idle host runs it faster`
          : '';
    process.stderr.write(
      `\ndemo finished in ${totalSeconds.toFixed(0)} s (${times.map((x) => `${x.stage} ${x.seconds.toFixed(0)} s`).join(', ')})${steal}\nresults in ${args.out} (report: ${join(args.out, 'report', 'index.html')})\n`,
    );
  }
}
