// `ldm serve` as installed from the tarballs (the built CLI and its prebuilt page) on the `ldm demo --quick`
// folder: the page, its script and the wasm binaries answer 200, paths out of the folder 404, and headless
// Chromium draws 4 DDIM samples equal to the installed `ldm sample --backend wasm` for the same seed.
//   node serve-browser.mjs LDM_BIN MODEL_DIR WORKSPACE_ROOT SCREENSHOT_PNG
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [ldm, model, root, screenshot] = process.argv.slice(2);
// playwright-core is a dependency of the workspace's e2e tests, not of the installed packages.
const { chromium } = createRequire(join(root, 'test', 'package.json'))('playwright-core');
const fail = (message) => {
  console.error(`serve: ${message}`);
  process.exit(1);
};

const server = spawn(ldm, ['serve', '--model', model, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
let stderr = '';
server.stderr.on('data', (d) => (stderr += d));
const exited = new Promise((resolve) => server.on('close', (code) => resolve(code)));
const base = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    if (out.includes('\n')) resolve(out.split('\n')[0].trim());
  });
  server.on('close', () => reject(new Error(`ldm serve exited: ${stderr}`)));
});

const status = (path) =>
  new Promise((resolve, reject) => {
    const req = request(new URL(base), { path }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end();
  });
try {
  for (const path of ['/', '/page.js', '/wasm/tfjs-backend-wasm-simd.wasm', '/model/model_index.json', '/model/unet/diffusion_pytorch_model.safetensors']) {
    const code = await status(path);
    if (code !== 200) fail(`${path}: HTTP ${code}, expected 200`);
  }
  for (const path of ['/model/../package.json', '/model/%2e%2e/report/index.html', '/model/%2fetc%2fpasswd']) {
    const code = await status(path);
    if (code !== 404) fail(`${path}: HTTP ${code}, expected 404`);
  }
  console.log('page, page.js, wasm and model files: 200; paths out of the folder: 404');

  const reference = join(mkdtempSync(join(tmpdir(), 'ldm-serve-ref-')), 'ref.npy');
  const sampled = spawnSync(
    ldm,
    ['sample', '--model', model, '--backend', 'wasm', '--sampler', 'ddim', '--steps', '10', '-n', '4', '--seed', '0', '--out', reference, '--quiet'],
    { encoding: 'utf8' },
  );
  if (sampled.status !== 0) fail(`ldm sample: ${sampled.stderr}`);
  const bytes = readFileSync(reference);
  const expected = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 10 + bytes.readUInt16LE(8)));

  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'ldm-chromium-profile-')), {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}?sampler=ddim&steps=10&count=4&seed=0&backend=wasm`);
    await page.waitForSelector('#samples[data-status=done], #samples[data-status=error]', { timeout: 120_000 });
    const result = await page.evaluate(() => window.ldm ?? document.querySelector('#samples .message').textContent);
    if (typeof result === 'string') fail(`the page says: ${result}`);
    if (errors.length > 0) fail(`console errors: ${errors.join(' | ')}`);
    if (result.images.length !== expected.length) fail(`${result.images.length} values in the page, ${expected.length} from ldm sample`);
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(result.images[i] - expected[i]));
    if (!(maxDiff < 1e-4)) fail(`the page's samples differ from ldm sample --backend wasm by up to ${maxDiff}`);
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(
      `4 DDIM-10 samples in Chromium: max |Δ| vs ldm sample --backend wasm = ${maxDiff.toExponential(2)}, ${result.msPerSample.toFixed(0)} ms per sample; screenshot ${screenshot}`,
    );
  } finally {
    await context.close();
  }
} finally {
  server.kill('SIGINT');
}
const code = await exited;
if (code !== 0 || !stderr.trim().endsWith('stopped (SIGINT)')) fail(`after Ctrl-C: exit ${code}, ${stderr.trim().split('\n').at(-1)}`);
console.log('Ctrl-C: exit 0, one line');
