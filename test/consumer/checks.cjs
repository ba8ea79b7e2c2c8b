/*
 * What another repository does with the installed packages, written once in plain JavaScript and run
 * from both module systems: consumer.mjs (import) and consumer.cjs (require) pass the modules in.
 * Every check throws on failure; the process exits non-zero.
 */
'use strict';
const assert = require('node:assert/strict');
const { mkdtempSync, rmSync, readFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const TINY_UNET = { blockOutChannels: [8, 16], normNumGroups: 4, attentionHeadDim: 8, sampleSize: 8 };
const TINY_VAE = {
  sampleSize: 16,
  blockOutChannels: [8, 16],
  downBlockTypes: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
  upBlockTypes: ['UpDecoderBlock2D', 'UpDecoderBlock2D'],
  normNumGroups: 4,
};

function allFinite(t) {
  return t.dataSync().every((v) => Number.isFinite(v));
}

exports.runChecks = async function runChecks(m, format) {
  const { tf, backend, nn, unet, vae, ddpm, ddim, pipeline } = m;
  const log = (what) => process.stdout.write(`[${format}] ok: ${what}\n`);
  const dir = mkdtempSync(join(tmpdir(), `ldm-consumer-${format}-`));
  try {
    const info = await backend.initBackend({ backend: 'wasm' });
    assert.equal(info.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    log('initBackend wasm');

    const model = new unet.UNet2DModel({ ...unet.LATENT_UNET_CONFIG, ...TINY_UNET }, new backend.Generator(1));
    const x = backend.randn([2, 8, 8, 4], new backend.Generator(2));
    const before = tf.memory().numTensors;
    const y = model.forward(x, 10);
    assert.deepEqual(y.shape, [2, 8, 8, 4]);
    assert.ok(allFinite(y));
    y.dispose();
    assert.equal(tf.memory().numTensors, before, 'UNet forward leaked tensors');
    log('UNet2DModel forward');

    // Algorithm 1 through the built trainer, in process and with two data-parallel worker threads.
    const gen = new backend.Generator(3);
    const images = gen.normal(16 * 8 * 8 * 4);
    for (const threads of [1, 2]) {
      const result = await ddpm.trainDDPM({
        model,
        data: { images, shape: [16, 8, 8, 4], name: 'random' },
        runDir: join(dir, `train-${threads}`),
        scheduler: { clipSample: false },
        steps: 3,
        batchSize: 4,
        learningRate: 1e-3,
        seed: 0,
        checkpointEvery: 3,
        saveModel: (d) => model.save(d),
        loadModel: (d) => nn.loadModelFolderInto(model, d),
        silent: true,
        threads,
      });
      assert.equal(result.step, 3);
      assert.ok(Number.isFinite(result.smoothedLoss), `loss ${result.smoothedLoss}`);
      result.ema.dispose();
      log(`trainDDPM 3 steps, threads ${threads} (loss ${result.smoothedLoss.toFixed(3)})`);
    }

    const scheduler = ddim.DDIMScheduler.fromConfig({ num_train_timesteps: 1000, clip_sample: false });
    scheduler.setTimesteps(5);
    model.eval();
    const x0 = ddpm.sample({ denoiser: (xt, t) => model.forward(xt, t), scheduler, shape: [2, 8, 8, 4], seed: 0 });
    assert.deepEqual(x0.shape, [2, 8, 8, 4]);
    assert.ok(allFinite(x0));
    x0.dispose();
    log('DDIM sampling, 5 steps');

    await model.save(join(dir, 'unet'));
    const loaded = await unet.UNet2DModel.fromPretrained(join(dir, 'unet'));
    loaded.eval();
    const a = model.forward(x, 500);
    const b = loaded.forward(x, 500);
    assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
    tf.dispose([a, b]);
    loaded.dispose();
    log('UNet2DModel save / fromPretrained round trip (bit-exact)');

    const autoencoder = new vae.AutoencoderKL({ ...vae.DEFAULT_VAE_CONFIG, ...TINY_VAE }, new backend.Generator(4));
    autoencoder.eval();
    const img = tf.tidy(() => tf.sub(tf.mul(backend.rand([2, 16, 16, 1], new backend.Generator(5)), 2), 1));
    const posterior = autoencoder.encode(img);
    const z = posterior.mode();
    assert.deepEqual(z.shape, [2, 8, 8, 4]);
    const recon = autoencoder.decode(z);
    assert.deepEqual(recon.shape, [2, 16, 16, 1]);
    assert.ok(allFinite(recon));
    tf.dispose([img, z, recon]);
    posterior.dispose();
    log('AutoencoderKL encode / decode');

    // A pipeline folder: the one `ldm demo --quick` wrote (LDM_PIPELINE_DIR), else one saved here.
    let folder = process.env.LDM_PIPELINE_DIR;
    if (!folder) {
      folder = join(dir, 'pipeline');
      const fresh = new pipeline.LatentDiffusionPipeline({
        vae: autoencoder,
        unet: model,
        schedulerConfig: new ddpm.DDPMScheduler({ clipSample: false }).toConfig(),
      });
      await fresh.save(folder);
    }
    const index = JSON.parse(readFileSync(join(folder, 'model_index.json'), 'utf8'));
    assert.equal(index._class_name, 'LDMPipeline');
    const pipe = await pipeline.LatentDiffusionPipeline.fromPretrained(folder);
    const start = tf.memory().numTensors;
    const out = pipe.generate({ count: 3, sampler: 'ddim', steps: 5, eta: 0, seed: 0, batchSize: 2 });
    const [n, h, w, c] = out.images.shape;
    assert.equal(n, 3);
    assert.equal(c, 1);
    const values = out.images.dataSync();
    assert.ok(
      values.every((v) => v >= 0 && v <= 1),
      'images outside [0, 1]',
    );
    const again = pipe.generate({ count: 3, sampler: 'ddim', steps: 5, seed: 0, batchSize: 2 });
    assert.deepEqual(Array.from(again.images.dataSync()), Array.from(values), 'same seed, different images');
    tf.dispose([out.images, again.images]);
    assert.equal(tf.memory().numTensors, start, 'generate leaked tensors');
    pipe.dispose();
    log(
      `LatentDiffusionPipeline.fromPretrained(${process.env.LDM_PIPELINE_DIR ? 'ldm demo folder' : 'saved folder'}).generate → [${n}, ${h}, ${w}, ${c}] in [0, 1]`,
    );

    tf.dispose(x);
    model.dispose();
    autoencoder.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
