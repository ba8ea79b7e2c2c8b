/*
 * The page `ldm serve` serves: loads the pipeline folder from /model/ over HTTP with @ldm/pipeline
 * (its browser build) and generates in this browser. The same seed gives the images `ldm sample` gives
 * on the same backend: the noise comes from the project's JS generator, not from the backend.
 *
 * For tests and scripts: `/?sampler=ddim&steps=10&count=4&seed=0` starts a generation on load;
 * `#samples[data-status]` is idle → running → done | error; `window.ldm` holds the last result
 * (float images NHWC in [0, 1], the time per sample, the backend).
 */
import type * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '@ldm/backend';
import { GENERATE_DEFAULTS, loadPipeline } from '@ldm/pipeline';
import type { Pipeline, SamplerName } from '@ldm/pipeline';

interface Settings {
  sampler: SamplerName;
  steps: number;
  eta: number;
  count: number;
  seed: number;
  backend: 'wasm' | 'webgl' | 'cpu';
  /** Show the grid as it denoises (a decode every tenth of the steps); `preview=0` times the sampler alone. */
  preview: boolean;
}

export interface PageResult {
  settings: Settings;
  shape: [number, number, number, number];
  /** NHWC float32 in [0, 1], as `ldm sample --out x.npy` writes. */
  images: number[];
  msPerSample: number;
  backend: string;
  kernels: string;
}

declare global {
  interface Window {
    ldm?: PageResult;
  }
}

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = byId<HTMLFormElement>('controls');
const samples = byId<HTMLDivElement>('samples');
const canvas = byId<HTMLCanvasElement>('grid');
const message = samples.querySelector('.message') as HTMLParagraphElement;
const progress = byId<HTMLProgressElement>('progress');
const status = byId<HTMLDivElement>('status');
const timing = byId<HTMLDivElement>('timing');
const button = byId<HTMLButtonElement>('generate');

const MODEL_URL = new URL('/model/', location.href).href;
setWasmPaths(new URL('/wasm/', location.href).href);

function field(name: string): HTMLInputElement | HTMLSelectElement {
  return form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
}

function integer(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new Error(`${name}: expected an integer in ${min}..${max}, got "${value}"`);
  return n;
}

/** The form's values, checked (one-line errors naming the field). */
function readSettings(): Settings {
  const sampler = field('sampler').value;
  if (sampler !== 'ddim' && sampler !== 'ddpm') throw new Error(`sampler: expected ddim or ddpm, got "${sampler}"`);
  const stepsText = field('steps').value;
  const steps = stepsText === '' ? (sampler === 'ddpm' ? GENERATE_DEFAULTS.ddpmSteps : GENERATE_DEFAULTS.ddimSteps) : integer('steps', stepsText, 1, 1000);
  const eta = Number(field('eta').value);
  if (!Number.isFinite(eta) || eta < 0 || eta > 1) throw new Error(`eta: expected a number in 0..1, got "${field('eta').value}"`);
  const backend = field('backend').value;
  if (backend !== 'wasm' && backend !== 'webgl' && backend !== 'cpu') throw new Error(`backend: expected wasm, webgl or cpu, got "${backend}"`);
  return {
    sampler,
    steps,
    eta,
    count: integer('count', field('count').value, 1, 256),
    seed: integer('seed', field('seed').value, 0, 2 ** 31 - 1),
    backend,
    preview: new URLSearchParams(location.search).get('preview') !== '0',
  };
}

/** Query-string values go into the form first, so what runs is what the form shows. */
function applyQuery(query: URLSearchParams): void {
  for (const name of ['sampler', 'steps', 'eta', 'count', 'seed', 'backend']) {
    const value = query.get(name);
    if (value !== null) field(name).value = value;
  }
}

/** Draws NHWC images in [0, 1] as a grid (grey or RGB), `start` images into it. */
function drawGrid(data: Float32Array | Uint8Array | Int32Array, shape: number[], count: number, start: number): void {
  const [n, h, w, c] = shape as [number, number, number, number];
  const cols = Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / cols);
  const gap = 1;
  const width = cols * (w + gap) - gap;
  const height = rows * (h + gap) - gap;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
    const scale = Math.max(1, Math.floor(Math.min(512 / width, 512 / height)));
    canvas.style.width = `${width * scale}px`;
    canvas.style.height = `${height * scale}px`;
  }
  const ctx = canvas.getContext('2d')!;
  const pixels = ctx.createImageData(w, h);
  for (let i = 0; i < n; i++) {
    const k = start + i;
    for (let p = 0; p < h * w; p++) {
      for (let ch = 0; ch < 3; ch++) pixels.data[p * 4 + ch] = Math.round(255 * (data[(i * h * w + p) * c + (c === 1 ? 0 : ch)] as number));
      pixels.data[p * 4 + 3] = 255;
    }
    ctx.putImageData(pixels, (k % cols) * (w + gap), Math.floor(k / cols) * (h + gap));
  }
}

/** Yields to the event loop without setTimeout's 4 ms clamp, so the page repaints between steps. */
function yieldToPage(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(0);
  });
}

let loaded: { pipeline: Pipeline; backend: string } | undefined;

async function pipelineOn(backend: Settings['backend']): Promise<{ pipeline: Pipeline; info: { name: string; kernels: string } }> {
  if (loaded && loaded.backend !== backend) {
    loaded.pipeline.dispose();
    loaded = undefined;
  }
  // The bundle takes @ldm/backend's browser build, whose initBackend knows 'webgl'; the types here are Node's.
  const info = await initBackend({ backend: backend as 'wasm' });
  if (!loaded) {
    status.textContent = `loading ${MODEL_URL} …`;
    loaded = { pipeline: await loadPipeline(MODEL_URL), backend };
  }
  return { pipeline: loaded.pipeline, info };
}

function setStatus(value: 'idle' | 'running' | 'done' | 'error', text = ''): void {
  samples.dataset.status = value;
  message.textContent = text;
}

async function generate(): Promise<void> {
  button.disabled = true;
  setStatus('running');
  window.ldm = undefined;
  try {
    const settings = readSettings();
    const { pipeline, info } = await pipelineOn(settings.backend);
    const label = `${settings.sampler.toUpperCase()}-${settings.steps}${settings.sampler === 'ddim' ? `, η = ${settings.eta}` : ''}`;
    status.textContent = `${label}: starting on ${info.name}`;
    progress.value = 0;
    const t0 = performance.now();
    const result = await pipeline.generateAsync({
      sampler: settings.sampler,
      steps: settings.steps,
      eta: settings.eta,
      count: settings.count,
      seed: settings.seed,
      onStep: (done, total) => {
        progress.value = done / total;
        status.textContent = `${label}: step ${done} / ${total} on ${info.name}`;
      },
      ...(settings.preview
        ? { onPreview: async (images: tf.Tensor4D, start: number) => drawGrid(await images.data(), images.shape, settings.count, start) }
        : {}),
      pause: yieldToPage,
    });
    const data = await result.images.data();
    const ms = (performance.now() - t0) / settings.count;
    const shape = result.images.shape as [number, number, number, number];
    result.images.dispose();
    drawGrid(data, shape, settings.count, 0);
    timing.textContent = `${ms.toFixed(0)} ms per sample (${settings.count} samples, ${label}) · backend ${info.name}: ${info.kernels}`;
    status.textContent = `${label}: done, ${settings.count} samples`;
    window.ldm = { settings, shape, images: Array.from(data), msPerSample: ms, backend: info.name, kernels: info.kernels };
    setStatus('done');
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    status.textContent = 'error';
    setStatus('error', text);
  } finally {
    button.disabled = false;
  }
}

async function describeModel(): Promise<void> {
  try {
    const index = (await (await fetch(new URL('model_index.json', MODEL_URL))).json()) as { _class_name?: string; _ldm?: { data?: string } };
    const what = index._class_name === 'LDMPipeline' ? 'latent diffusion (VAE + UNet)' : 'pixel DDPM (UNet)';
    byId('model').textContent = `${MODEL_URL}: ${what}${index._ldm?.data ? `, trained on ${index._ldm.data}` : ''}`;
  } catch {
    byId('model').textContent = `${MODEL_URL}: model_index.json could not be read`;
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void generate();
});

void describeModel();
const query = new URLSearchParams(location.search);
if ([...query.keys()].length > 0) {
  applyQuery(query);
  void generate();
}
