import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LdmError } from '@ldm/backend';
import type { ComparisonResults, MethodResult, ScatterPanel } from './results';

/** A vega-lite spec; kept loose because vega-lite's own type is not exported as a plain object type. */
type VegaLiteSpec = Record<string, unknown>;

export interface RenderedChart {
  /** File stem under charts/. */
  name: string;
  title: string;
  svgPath: string;
  pngPath: string;
}

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const CONFIG = {
  font: FONT,
  view: { stroke: '#d0d7de' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eef1f4', domainColor: '#8c959f', tickColor: '#8c959f' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14, anchor: 'start', fontWeight: 600 },
};

function seriesName(m: MethodResult): string {
  if (m.sampler === 'ddim') return `DDIM ${m.space}, η=${m.eta ?? 0}`;
  if (m.sampler === 'ddpm') return `DDPM ${m.space}`;
  if (m.sampler === 'vae') return 'VAE decode';
  return `baseline: ${m.label ?? m.name}`;
}

/** Rows for the quality charts: one per method with a FID. */
function qualityRows(results: ComparisonResults): Record<string, unknown>[] {
  return results.methods
    .filter((m) => m.fid !== null)
    .map((m) => ({
      method: m.label ?? m.name,
      series: seriesName(m),
      steps: m.steps ?? 1,
      fid: m.fid,
      floor: m.fidFloor,
      ms: m.msPerSample,
      nfe: m.nfe,
    }));
}

export function fidVsStepsSpec(results: ComparisonResults): VegaLiteSpec {
  const rows = qualityRows(results).filter((r) => !String(r.series).startsWith('baseline'));
  const floors = results.methods.map((m) => m.fidFloor).filter((f): f is number => f !== null);
  const floor = floors.length ? floors.reduce((a, b) => a + b, 0) / floors.length : null;
  const layers: Record<string, unknown>[] = [
    {
      mark: { type: 'line', point: { size: 50, filled: true }, strokeWidth: 2 },
      encoding: {
        x: { field: 'steps', type: 'quantitative', scale: { type: 'log' }, title: 'sampling steps (log)' },
        y: { field: 'fid', type: 'quantitative', title: 'FID (lower is better)', scale: { zero: true } },
        color: { field: 'series', type: 'nominal', title: null, scale: { scheme: 'tableau10' } },
        tooltip: [{ field: 'method' }, { field: 'steps' }, { field: 'fid', format: '.2f' }],
      },
    },
  ];
  if (floor !== null) {
    layers.push({
      data: { values: [{ floor, label: `real-vs-real floor ${floor.toFixed(2)}` }] },
      layer: [
        { mark: { type: 'rule', strokeDash: [5, 4], color: '#57606a' }, encoding: { y: { field: 'floor', type: 'quantitative' } } },
        {
          mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#57606a', fontSize: 11 },
          encoding: { y: { field: 'floor', type: 'quantitative' }, x: { value: 0 }, text: { field: 'label' } },
        },
      ],
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Quality against sampling steps',
    width: 560,
    height: 320,
    data: { values: rows },
    layer: layers,
    config: CONFIG,
  };
}

export function fidVsTimeSpec(results: ComparisonResults): VegaLiteSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Quality against time per sample (${results.meta.backend})`,
    width: 560,
    height: 320,
    data: { values: qualityRows(results) },
    mark: { type: 'point', filled: true, size: 80, opacity: 0.9 },
    encoding: {
      x: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'wall time per sample, ms (log)' },
      y: { field: 'fid', type: 'quantitative', title: 'FID (lower is better)', scale: { zero: true } },
      color: { field: 'series', type: 'nominal', title: null, scale: { scheme: 'tableau10' } },
      shape: { field: 'series', type: 'nominal', title: null },
      tooltip: [{ field: 'method' }, { field: 'ms', format: '.1f' }, { field: 'fid', format: '.2f' }],
    },
    config: CONFIG,
  };
}

export function scatterSpec(panel: ScatterPanel): VegaLiteSpec {
  const rows: Record<string, unknown>[] = [];
  const panels = panel.methods.map((m) => m.name);
  for (const m of panel.methods) {
    for (let i = 0; i + 1 < m.points.length; i += 2) rows.push({ panel: m.name, x: m.points[i], y: m.points[i + 1], kind: 'sample' });
    for (let i = 0; i + 1 < panel.modeMeans.length; i += 2) rows.push({ panel: m.name, x: panel.modeMeans[i], y: panel.modeMeans[i + 1], kind: 'true mode' });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `2-D multimodality: samples over the true modes (${panel.dataset})`,
    data: { values: rows },
    facet: { field: 'panel', type: 'nominal', title: null, sort: panels, header: { labelFontSize: 13, labelFontWeight: 600 } },
    columns: Math.min(panel.methods.length, 4),
    spec: {
      width: 220,
      height: 220,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'sample'" }],
          mark: { type: 'circle', size: 6, opacity: 0.35, color: '#0969da' },
          encoding: { x: { field: 'x', type: 'quantitative', title: null }, y: { field: 'y', type: 'quantitative', title: null } },
        },
        {
          transform: [{ filter: "datum.kind === 'true mode'" }],
          // Hollow and thin, so samples sitting exactly on a mode stay visible under the marker.
          mark: { type: 'point', shape: 'cross', size: 60, color: '#cf222e', strokeWidth: 1.2, filled: false, opacity: 0.9 },
          encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
        },
      ],
    },
    config: CONFIG,
  };
}

/** vega-lite → vega → SVG string, headless (no canvas: text is measured by estimate). */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  // ESM with top-level await: only import() can load them from the CJS build.
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const compiled = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes charts/<name>.svg and charts/<name>.png (sharp rasterises the SVG at 2× for sharp text). */
export async function writeChart(chartsDir: string, name: string, title: string, spec: VegaLiteSpec): Promise<RenderedChart> {
  const svg = await renderSvg(spec);
  const svgPath = join(chartsDir, `${name}.svg`);
  const pngPath = join(chartsDir, `${name}.png`);
  await writeFile(svgPath, svg);
  const { default: sharp } = await import('sharp');
  try {
    await sharp(Buffer.from(svg), { density: 144 }).flatten({ background: '#ffffff' }).png().toFile(pngPath);
  } catch (e) {
    throw new LdmError('INVALID_ARGUMENT', `chart '${name}': sharp could not rasterise the SVG (${(e as Error).message})`, { cause: e });
  }
  return { name, title, svgPath, pngPath };
}
