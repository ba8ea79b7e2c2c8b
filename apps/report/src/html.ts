import type { RenderedChart } from './charts';
import type { ComparisonResults, MethodResult, ScatterPanel } from './results';

/** Relative paths (from index.html) of the files the page shows. */
export interface PageAssets {
  charts: RenderedChart[];
  /** method name → grid PNG path relative to index.html. */
  grids: Map<string, string>;
  scatterChart?: RenderedChart;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function fmt(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined ? '—' : v.toFixed(digits);
}

function fmtMs(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

type Direction = 'min' | 'max';

/** The best value of a column, over methods that have it (baselines excluded: they set no bar to beat). */
function best(methods: MethodResult[], key: 'fid' | 'msPerSample' | 'peakMemoryMB' | 'precision' | 'recall' | 'nfe', dir: Direction): number | null {
  const values = methods
    .filter((m) => m.sampler !== 'baseline')
    .map((m) => m[key])
    .filter((v): v is number => v !== null);
  if (values.length === 0) return null;
  return dir === 'min' ? Math.min(...values) : Math.max(...values);
}

function cell(text: string, isBest: boolean, title?: string): string {
  const t = title ? ` title="${escapeHtml(title)}"` : '';
  return `<td class="num${isBest ? ' best' : ''}"${t}>${text}</td>`;
}

/** Class shares as a row of small bars, one a class, so a collapse onto one digit is visible at a glance. */
function sharesBars(shares: number[] | null): string {
  if (!shares) return '<td class="shares">—</td>';
  const max = Math.max(...shares, 1e-9);
  const bars = shares
    .map((s, c) => `<span class="bar" style="height:${Math.max(1, Math.round((s / max) * 22))}px" title="class ${c}: ${(100 * s).toFixed(1)}%"></span>`)
    .join('');
  const top = shares.indexOf(Math.max(...shares));
  return `<td class="shares"><span class="bars">${bars}</span><span class="top">max ${(100 * shares[top]!).toFixed(0)}% (${top})</span></td>`;
}

function methodTable(results: ComparisonResults): string {
  const ms = results.methods;
  const bFid = best(ms, 'fid', 'min');
  const bMs = best(ms, 'msPerSample', 'min');
  const bMem = best(ms, 'peakMemoryMB', 'min');
  const bP = best(ms, 'precision', 'max');
  const bR = best(ms, 'recall', 'max');
  const rows = ms.map((m) => {
    const fidText = m.fid === null ? '—' : `${m.fid.toFixed(2)} <span class="floor">/ ${fmt(m.fidFloor, 2)}</span>`;
    return `<tr data-method="${escapeHtml(m.name)}" class="sampler-${m.sampler}">
  <th scope="row">${escapeHtml(m.label ?? m.name)}${m.notes ? `<div class="note">${escapeHtml(m.notes)}</div>` : ''}</th>
  <td>${m.sampler}</td><td>${m.space}</td>
  ${cell(m.steps === null ? '—' : String(m.steps), false)}
  ${cell(m.eta === null ? '—' : String(m.eta), false)}
  ${cell(String(m.nfe), m.sampler !== 'baseline' && m.nfe === best(ms, 'nfe', 'min'))}
  ${cell(fmtMs(m.msPerSample), m.sampler !== 'baseline' && m.msPerSample === bMs)}
  ${cell(m.peakMemoryMB.toFixed(1), m.sampler !== 'baseline' && m.peakMemoryMB === bMem)}
  ${cell(fidText, m.sampler !== 'baseline' && m.fid !== null && m.fid === bFid, 'FID / real-vs-real floor at the same sample size')}
  ${cell(fmt(m.precision, 3), m.sampler !== 'baseline' && m.precision !== null && m.precision === bP)}
  ${cell(fmt(m.recall, 3), m.sampler !== 'baseline' && m.recall !== null && m.recall === bR)}
  ${sharesBars(m.classShares)}
</tr>`;
  });
  return `<table id="methods">
<thead><tr>
  <th scope="col">method</th><th scope="col">sampler</th><th scope="col">space</th>
  <th scope="col" class="num">steps</th><th scope="col" class="num">η</th><th scope="col" class="num">NFE</th>
  <th scope="col" class="num">ms / sample</th><th scope="col" class="num">peak MB</th>
  <th scope="col" class="num">FID <span class="floor">/ floor</span></th>
  <th scope="col" class="num">precision</th><th scope="col" class="num">recall</th><th scope="col">class shares</th>
</tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

/** Reference figures measured elsewhere: a yardstick for the FID column, not results of this run. */
function referenceList(references: ComparisonResults['meta']['references']): string {
  if (!references?.length) return '';
  const items = references
    .map(
      (r) =>
        `<li>${escapeHtml(r.label)}: FID <strong>${r.fid.toFixed(0)}</strong>${r.fidFloor === undefined ? '' : ` <span class="floor">/ ${r.fidFloor.toFixed(0)}</span>`} <span class="note">(${escapeHtml(r.source)})</span></li>`,
    )
    .join('\n');
  return `<div id="references"><p>For reference, measured elsewhere on the same FID (not by this run):</p><ul>\n${items}\n</ul></div>`;
}

function scatterSection(panel: ScatterPanel, chart: RenderedChart | undefined): string {
  const rows = panel.methods
    .map(
      (m) =>
        `<tr><th scope="row">${escapeHtml(m.name)}</th>${cell(fmt(m.slicedWasserstein, 4), false)}${cell(fmt(m.mmd, 4), false)}${cell(
          m.betweenModes === undefined ? '—' : `${(100 * m.betweenModes).toFixed(1)}%`,
          false,
        )}${cell(m.modeShares ? `${m.modeShares.filter((s) => s >= 0.5 / m.modeShares!.length).length} / ${m.modeShares.length}` : '—', false)}</tr>`,
    )
    .join('\n');
  return `<section id="toy2d">
<h2>2-D multimodality</h2>
<p>Samples of each sampler on <strong>${escapeHtml(panel.dataset)}</strong>, with the true mode centres marked ×. Distances are exact
(sliced 2-Wasserstein, RBF MMD² against samples of the true distribution); “between modes” is the share of samples farther than
${panel.modeRadius === undefined ? '—' : Number(panel.modeRadius.toPrecision(4))} from every mode; “modes hit” counts modes holding at least half their fair share.</p>
${chart ? `<figure><img src="charts/${chart.name}.svg" alt="${escapeHtml(chart.title)}"></figure>` : ''}
<table id="toy2d-table"><thead><tr><th scope="col">sampler</th><th scope="col" class="num">sliced W₂</th><th scope="col" class="num">MMD²</th><th scope="col" class="num">between modes</th><th scope="col" class="num">modes hit</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</section>`;
}

const CSS = `
:root { --fg:#1f2328; --muted:#57606a; --line:#d0d7de; --soft:#f6f8fa; --accent:#0969da; --best:#dafbe1; --best-fg:#116329; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #fff; }
header { padding: 28px 40px 18px; border-bottom: 1px solid var(--line); background: var(--soft); }
header h1 { margin: 0 0 6px; font-size: 22px; }
header .meta { color: var(--muted); display: flex; flex-wrap: wrap; gap: 6px 22px; }
main { padding: 8px 40px 40px; max-width: 1500px; }
h2 { font-size: 17px; margin: 32px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
p { max-width: 900px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: middle; }
thead th { position: sticky; top: 0; background: #fff; font-weight: 600; border-bottom: 2px solid var(--line); white-space: nowrap; }
tbody tr:hover { background: var(--soft); }
td.num, th.num { text-align: right; white-space: nowrap; }
td.best { background: var(--best); color: var(--best-fg); font-weight: 600; }
tr.sampler-baseline th, tr.sampler-baseline td { color: var(--muted); }
.floor { color: var(--muted); font-weight: 400; font-size: 12px; }
.note { color: var(--muted); font-size: 12px; font-weight: 400; }
td.shares { white-space: nowrap; }
.bars { display: inline-flex; align-items: flex-end; gap: 1px; height: 22px; margin-right: 8px; vertical-align: middle; }
.bar { width: 5px; background: var(--accent); border-radius: 1px 1px 0 0; }
.top { color: var(--muted); font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; }
figure { margin: 0; }
figure img { max-width: 100%; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
.grids { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 18px; }
.grids img { width: 100%; image-rendering: pixelated; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; overflow-x: auto; font-size: 13px; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; }
.legend-best { display: inline-block; padding: 0 6px; background: var(--best); color: var(--best-fg); border-radius: 3px; font-weight: 600; }
`;

/** The whole page. Every asset is a relative path beside it: nothing is fetched from the network. */
export function renderPage(results: ComparisonResults, assets: PageAssets, scatter?: ScatterPanel): string {
  const { meta } = results;
  const title = meta.title ?? 'Sampling speed and quality: VAE, DDPM and DDIM, pixel and latent';
  const charts = assets.charts
    .map(
      (c) =>
        `<figure><img src="charts/${c.name}.svg" alt="${escapeHtml(c.title)}"><figcaption>${escapeHtml(c.title)} · <a href="charts/${c.name}.png">PNG</a></figcaption></figure>`,
    )
    .join('\n');
  const grids = results.methods
    .filter((m) => assets.grids.has(m.name))
    .map(
      (m) =>
        `<figure><img src="${escapeHtml(assets.grids.get(m.name)!)}" alt="samples: ${escapeHtml(m.label ?? m.name)}"><figcaption>${escapeHtml(m.label ?? m.name)} · NFE ${m.nfe}</figcaption></figure>`,
    )
    .join('\n');
  const seeds = Object.entries(meta.seeds)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<div class="meta">
<span>${escapeHtml(meta.date)}</span>
<span>backend <strong>${escapeHtml(meta.backend)}</strong></span>
<span>${escapeHtml(meta.machine.cpu)} · ${meta.machine.cores} cores · ${meta.machine.memoryGB} GB</span>
<span>Node ${escapeHtml(meta.machine.node)} · ${escapeHtml(meta.machine.platform)}</span>
<span>data: ${escapeHtml(meta.dataset)}</span>
</div>
</header>
<main>
<section id="summary">
<h2>Methods</h2>
<p>NFE counts model evaluations per sample. Time is wall time per sample on the <strong>${escapeHtml(meta.backend)}</strong> backend
(${escapeHtml(meta.timing)}); memory is the peak of tfjs tensor memory while sampling. FID is computed over the features of the
project's own MNIST classifier${meta.classifier?.heldOutAccuracy !== undefined ? ` (held-out accuracy ${(100 * meta.classifier.heldOutAccuracy).toFixed(1)}%)` : ''},
printed beside the real-vs-real floor at the same sample size: a perfect generator scores the floor, not 0.${
    results.methods.some((m) => m.name === 'training-digits')
      ? ' The classifier was trained on the training digits, so a copy of them scores above the floor (the row of the training digits themselves): a generator that learned its training set well lands near that row.'
      : ''
  }
Precision and recall are the k-NN manifold estimates (Kynkäänniemi et al. 2019). <span class="legend-best">Highlighted</span>: best of each column among the non-baseline methods.</p>
${methodTable(results)}
${referenceList(meta.references)}
</section>
<section id="charts">
<h2>Charts</h2>
<div class="charts">
${charts}
</div>
</section>
${grids ? `<section id="grids"><h2>Samples</h2><div class="grids">\n${grids}\n</div></section>` : ''}
${scatter ? scatterSection(scatter, assets.scatterChart) : ''}
<section id="provenance">
<h2>How this report was made</h2>
<pre>${meta.commands.map(escapeHtml).join('\n')}</pre>
<dl class="kv">
<dt>backend</dt><dd>${escapeHtml(meta.backend)}</dd>
${seeds}
${meta.classifier ? `<dt>FID classifier</dt><dd>${escapeHtml(meta.classifier.path)}</dd>` : ''}
<dt>every number</dt><dd><a href="results.json">results.json</a></dd>
</dl>
${meta.notes?.length ? `<ul>${meta.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
</section>
</main>
</body>
</html>
`;
}
