import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeNpy } from '@ldm/data';
import { collect, runCli, startCli, writeTinyConfigs } from './cli-helpers';

/*
 * Issue 13: `ldm serve` on a real `ldm train` pipeline folder (tiny, trained here in seconds), over
 * HTTP (what it serves and what it refuses) and in headless Chromium (4 DDIM samples, compared with
 * `ldm sample --backend wasm` for the same seed). The page's screenshot is kept as an artifact.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = fileURLToPath(new URL('../apps/cli/test-artifacts/', import.meta.url));
const fast = ['--backend', 'wasm', '--limit', '64', '--batch-size', '8', '--quiet'];

let dir: string;
let model: string;
let server: ChildProcess;
let serverDone: ReturnType<typeof collect>;
let base: string;

/** Starts `ldm serve` and resolves with its URL (the first line it prints on stdout). */
async function startServe(args: string[]): Promise<{ child: ChildProcess; url: string; done: ReturnType<typeof collect> }> {
  const child = startCli(['serve', ...args]);
  const done = collect(child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0]!;
      if (out.includes('\n')) resolve(line.trim());
    });
    child.on('close', () => reject(new Error(`ldm serve exited before printing its URL: ${out}`)));
  });
  return { child, url, done };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ldm-serve-'));
  const configs = await writeTinyConfigs(dir);
  const vae = join(dir, 'vae');
  model = join(dir, 'latent-ddpm');
  const v = await runCli(['train-vae', ...fast, '--steps', '4', '--sample-every', '0', '--model-config', configs.vae, '--out', vae]);
  expect(v.stderr).toBe('');
  const l = await runCli([
    'train',
    '--space',
    'latent',
    '--vae',
    vae,
    ...fast,
    '--steps',
    '4',
    '--sample-every',
    '0',
    '--model-config',
    configs.unet,
    '--out',
    model,
  ]);
  expect(l.stderr).toBe('');
  // Inside the served folder: a symlink leading out of it (refused) and one staying inside (served).
  await writeFile(join(dir, 'secret.txt'), 'not to be served');
  await symlink(join(dir, 'secret.txt'), join(model, 'escape.txt'));
  await symlink(dir, join(model, 'escape-dir'));
  await symlink(join(model, 'unet', 'config.json'), join(model, 'inside.json'));
  ({ child: server, url: base, done: serverDone } = await startServe(['--model', model, '--port', '0']));
});

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGINT');
    await serverDone;
  }
  await rm(dir, { recursive: true, force: true });
});

describe('ldm serve over HTTP', () => {
  it('listens on 127.0.0.1 and serves the page, its script, the wasm binaries and the pipeline folder', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    for (const [path, type] of [
      ['', 'text/html'],
      ['page.js', 'text/javascript'],
      ['wasm/tfjs-backend-wasm-simd.wasm', 'application/wasm'],
      ['wasm/tfjs-backend-wasm.wasm', 'application/wasm'],
      ['model/model_index.json', 'application/json'],
      ['model/unet/diffusion_pytorch_model.safetensors', 'application/octet-stream'],
      ['model/vqvae/latent_stats.json', 'application/json'],
      ['model/inside.json', 'application/json'],
    ] as const) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toContain(type);
    }
    expect(await (await fetch(`${base}model/model_index.json`)).text()).toBe(await readFile(join(model, 'model_index.json'), 'utf8'));
    // --backend auto: the page starts on wasm, the backend `ldm sample --backend wasm` matches.
    expect(await (await fetch(base)).text()).toContain('<option value="wasm" selected>');
  });

  it('answers 404 to every path outside the page and the folder: .., %2e%2e, absolute paths, symlinks leading out, hidden files', async () => {
    const { request } = await import('node:http');
    // fetch would normalise '..' away before sending; node:http sends the path as written.
    const status = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(new URL(base), { path, method: 'GET' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    const refused = [
      '/model/../secret.txt',
      '/model/%2e%2e/secret.txt',
      '/model/%2E%2E%2Fsecret.txt',
      '/model/..%2fsecret.txt',
      '/model/unet/../../secret.txt',
      '/model/unet/%2e%2e/%2e%2e/secret.txt',
      '/model//etc/passwd',
      '/model/%2fetc%2fpasswd',
      `/model/${encodeURIComponent(join(dir, 'secret.txt'))}`,
      '/model/..\\secret.txt',
      '/model/%5c..%5csecret.txt',
      '/model/escape.txt',
      '/model/escape-dir/secret.txt',
      '/model/training/.ldm.lock',
      '/model/unet/config.json%00.png',
      '/model/%zz',
      '/model/',
      '/model/unet',
      '/wasm/../page.js',
      '/wasm/tfjs-backend-wasm.js',
      '/../../etc/passwd',
      '/etc/passwd',
      '/page.js/../../secret.txt',
    ];
    const answers = await Promise.all(refused.map(async (path) => [path, await status(path)] as const));
    expect(answers.filter(([, code]) => code !== 404)).toEqual([]);
    // Read-only: no method that could write.
    const put = await fetch(`${base}model/model_index.json`, { method: 'PUT', body: '{}' });
    expect(put.status).toBe(405);
  });
});

describe('ldm serve in headless Chromium', () => {
  it('generates 4 DDIM samples: no console errors, the same images as ldm sample --backend wasm, a screenshot kept', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: run pnpm setup:browser (or set CHROMIUM_PATH)`);
    const reference = join(dir, 'reference.npy');
    const sampled = await runCli([
      'sample',
      '--model',
      model,
      '--backend',
      'wasm',
      '--sampler',
      'ddim',
      '--steps',
      '10',
      '-n',
      '4',
      '--seed',
      '3',
      '--out',
      reference,
      '--quiet',
    ]);
    expect(sampled.stderr).toBe('');
    const expected = decodeNpy(await readFile(reference), reference);

    const context = await chromium.launchPersistentContext(await mkdtemp(join(tmpdir(), 'ldm-chromium-profile-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1000, height: 800 },
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
      await page.goto(`${base}?sampler=ddim&steps=10&count=4&seed=3&backend=wasm`);
      await page.waitForSelector('#samples[data-status=done], #samples[data-status=error]', { timeout: 120_000 });
      expect(await page.textContent('#samples .message')).toBe('');
      expect(await page.getAttribute('#samples', 'data-status')).toBe('done');
      // The page's `window.ldm` (apps/cli/page/main.ts); this file has no DOM types, hence globalThis.
      const result = await page.evaluate(() => (globalThis as unknown as { ldm: PageResult }).ldm);
      expect(result.backend).toBe('wasm');
      expect(result.shape).toEqual(expected.shape);
      let maxDiff = 0;
      for (let i = 0; i < expected.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(result.images[i]! - expected.data[i]!));
      process.stderr.write(
        `serve: browser vs ldm sample --backend wasm, max |Δ| = ${maxDiff.toExponential(2)} over ${expected.data.length} values; ${result.msPerSample.toFixed(0)} ms per sample in the page\n`,
      );
      expect(maxDiff).toBeLessThan(1e-4);
      // The images are not blank: a trained-for-4-steps model still draws something that varies.
      expect(Math.max(...result.images) - Math.min(...result.images)).toBeGreaterThan(0.05);
      expect(await page.textContent('#timing')).toMatch(/ms per sample \(4 samples, DDIM-10, η = 0\) · backend wasm/);
      expect(errors).toEqual([]);

      await mkdir(ARTIFACTS, { recursive: true });
      const shot = join(ARTIFACTS, 'serve.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect((await stat(shot)).size).toBeGreaterThan(5_000);
      process.stderr.write(`serve: screenshot ${shot}\n`);
    } finally {
      await context.close();
    }
  });
});

describe('ldm serve stops cleanly', () => {
  it('Ctrl-C (SIGINT) closes the server and ends with one line, exit code 0', async () => {
    server.kill('SIGINT');
    const result = await serverDone;
    expect(result.code).toBe(0);
    expect(result.stderr.trim().split('\n').at(-1)).toBe('stopped (SIGINT)');
    expect(result.stderr).not.toMatch(/error|Error/);
    await expect(fetch(base)).rejects.toThrow();
  });
});

/** What the page leaves on `window.ldm` once #samples is done. */
interface PageResult {
  shape: number[];
  images: number[];
  msPerSample: number;
  backend: string;
}
