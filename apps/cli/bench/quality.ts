/**
 * Sample quality of one trained pipeline folder, measured the way issue 14 states its targets: FID of
 * the project's classifier (@ldm/eval `sampleQuality`) between N samples and the held-out digits
 * (the held-out split of `ldm train`'s seed), with the real-vs-real floor and the class shares.
 * Used to choose the demo's recipe (apps/cli/README.md, "How the demo's recipe was chosen").
 *
 *   node --conditions=@ldm/source --import tsx apps/cli/bench/quality.ts DIR [--n 1000] [--samplers ddim50,ddpm1000,vae]
 *
 * Prints one JSON line per sampler and appends it to DIR/quality.jsonl.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Generator, initBackend } from '@ldm/backend';
import { loadMnistClassifier, sampleQuality } from '@ldm/eval';
import { loadSplit } from '../src/jobs/data';
import { latentShapeOf, loadPipeline } from '@ldm/pipeline';
import { generateImages, loadVae, priorImages } from '../src/jobs/samples';
import { DEFAULTS } from '../src/defaults';

const argv = process.argv.slice(2);
const dir = argv[0]!;
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : fallback;
};
const n = Number(opt('n', '1000'));
const samplers = opt('samplers', 'ddim50').split(',');
const seed = Number(opt('seed', '0'));
const backend = await initBackend({ backend: opt('backend', 'native') as 'native' });
const classifier = await loadMnistClassifier();
const { heldOut } = await loadSplit(DEFAULTS.data, DEFAULTS.heldOut, seed);
const real = { images: heldOut.images, shape: heldOut.shape };
const isVae = samplers.length === 1 && samplers[0] === 'vae-only';
const pipeline = isVae ? undefined : await loadPipeline(dir);

for (const s of samplers) {
  const t0 = performance.now();
  let images: { data: Float32Array; shape: [number, number, number, number] };
  if (s === 'vae' || s === 'vae-only') {
    const vae = pipeline && 'vae' in pipeline ? pipeline.vae : await loadVae(dir);
    images = priorImages(vae, { latentShape: latentShapeOf(vae, [32, 32, 1]), count: n, batchSize: 100, seed });
    if (!pipeline) vae.dispose();
  } else {
    const m = /^(ddim|ddpm)(\d+)(?:eta([\d.]+))?$/.exec(s);
    if (!m) throw new Error(`unknown sampler ${s}`);
    images = generateImages(pipeline!, {
      sampler: m[1] as 'ddim',
      steps: Number(m[2]),
      eta: m[3] ? Number(m[3]) : m[1] === 'ddpm' ? 1 : 0,
      count: n,
      batchSize: Math.min(n, 250),
      seed,
    });
  }
  const seconds = (performance.now() - t0) / 1000;
  const q = sampleQuality(real, { images: images.data, shape: images.shape }, classifier, { generator: new Generator(seed).split('fid') });
  const row = {
    dir,
    sampler: s,
    n,
    fid: +q.fid.toFixed(1),
    floor: +q.fidFloor.toFixed(1),
    precision: +q.precision.toFixed(3),
    recall: +q.recall.toFixed(3),
    shares: q.classShares.map((x) => +x.toFixed(3)),
    seconds: +seconds.toFixed(1),
    backend: backend.name,
  };
  console.log(JSON.stringify(row));
  await appendFile(join(dir, 'quality.jsonl'), `${JSON.stringify(row)}\n`);
}
pipeline?.dispose();
