// The installed packages in another repository's browser bundle: esbuild (platform browser, so the packages'
// `browser` export condition) bundles a page that loads a pipeline from a URL. A Node built-in left in the
// browser builds (node:fs, node:worker_threads) is an esbuild error; @ldm/data (sharp) must not be pulled in.
//   node browser-bundle.mjs WORKSPACE_ROOT
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [root] = process.argv.slice(2);
// esbuild is a devDependency of the workspace's CLI, not of the installed packages.
const esbuild = createRequire(join(root, 'apps', 'cli', 'package.json'))('esbuild');
writeFileSync(
  'browser-entry.mjs',
  `import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '@ldm/backend';
import { loadPipeline } from '@ldm/pipeline';
import { Conv2d, parseSafetensors } from '@ldm/nn';
import { AutoencoderKL } from '@ldm/vae';
import { DDIMScheduler } from '@ldm/ddim';
setWasmPaths('/wasm/');
await initBackend({ backend: 'wasm' });
const pipeline = await loadPipeline(new URL('model/', location.href).href);
const { images } = await pipeline.generateAsync({ count: 1, steps: 10 });
console.log(images.shape, Conv2d, parseSafetensors, AutoencoderKL, DDIMScheduler);
`,
);
const result = await esbuild.build({
  entryPoints: ['browser-entry.mjs'],
  bundle: true,
  platform: 'browser',
  format: 'esm',
  write: false,
  outdir: 'browser-out',
  logLevel: 'silent',
  metafile: true,
});
const inputs = Object.keys(result.metafile.inputs);
const nodeOnly = inputs.filter((p) => /node_modules\/(sharp|@ldm\/data)\//.test(p));
if (nodeOnly.length > 0) {
  console.error(`browser bundle pulled in Node-only code: ${nodeOnly.join(', ')}`);
  process.exit(1);
}
const ldm = inputs.filter((p) => p.includes('@ldm/')).map((p) => p.replace(/.*node_modules\//, ''));
console.log(
  `browser bundle of the installed packages: ${(result.outputFiles[0].contents.length / 1e6).toFixed(1)} MB, ${inputs.length} modules; @ldm files: ${ldm.join(', ')}`,
);
