/* The page `ldm serve` answers at /: a form, the grid, and page.js (apps/cli/page/main.ts) doing the work in the browser. */

/** The backends the page offers; the first is what `ldm sample --backend wasm` matches. */
export const PAGE_BACKENDS = ['wasm', 'webgl', 'cpu'] as const;
export type PageBackend = (typeof PAGE_BACKENDS)[number];

const backendOptions = (selected: PageBackend) =>
  PAGE_BACKENDS.map((b) => `<option value="${b}"${b === selected ? ' selected' : ''}>${b === 'webgl' ? 'WebGL' : b}</option>`).join('');

/** The page, with `backend` preselected in its form. */
export const pageHtml = (backend: PageBackend) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ldm serve</title>
<link rel="icon" href="data:,">
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 58rem; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; margin-bottom: .2rem; }
  #model { color: #555; margin-top: 0; font-family: ui-monospace, monospace; font-size: .85rem; }
  form { display: flex; flex-wrap: wrap; gap: .6rem 1.2rem; align-items: end; margin: 1rem 0; }
  label { display: flex; flex-direction: column; font-size: .8rem; color: #444; }
  input, select { font: inherit; width: 6.5rem; padding: .15rem .3rem; }
  button { font: inherit; padding: .3rem 1rem; }
  progress { width: 100%; height: .8rem; }
  #samples { margin-top: 1rem; min-height: 4rem; }
  #samples canvas { image-rendering: pixelated; border: 1px solid #ddd; background: #888; }
  #samples[data-status="error"] .message { color: #b00020; font-weight: 600; }
  #timing, #status { font-family: ui-monospace, monospace; font-size: .85rem; }
</style>
</head>
<body>
<h1>Sample from a pipeline folder in this browser</h1>
<p id="model">loading model_index.json…</p>
<form id="controls">
  <label>sampler <select name="sampler"><option value="ddim">DDIM</option><option value="ddpm">DDPM</option></select></label>
  <label>steps <input name="steps" type="number" min="1" max="1000" placeholder="50"></label>
  <label>η (DDIM) <input name="eta" type="number" min="0" max="1" step="0.1" value="0"></label>
  <label>count <input name="count" type="number" min="1" max="256" value="16"></label>
  <label>seed <input name="seed" type="number" min="0" step="1" value="0"></label>
  <label>backend <select name="backend">${backendOptions(backend)}</select></label>
  <button id="generate" type="submit">Generate</button>
</form>
<progress id="progress" max="1" value="0"></progress>
<div id="status">idle</div>
<div id="timing"></div>
<div id="samples" data-status="idle"><canvas id="grid" width="0" height="0"></canvas><p class="message"></p></div>
<script type="module" src="/page.js"></script>
</body>
</html>
`;
