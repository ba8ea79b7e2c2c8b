import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { LdmError } from '@ldm/backend';
import { fidVsStepsSpec, fidVsTimeSpec, scatterSpec, writeChart } from './charts';
import type { RenderedChart } from './charts';
import { renderPage } from './html';
import type { ComparisonResults, MachineInfo, ScatterPanel } from './results';
import { validateResults } from './results';

export interface WriteReportOptions {
  /** method name → path of a PNG image grid of its samples (copied into grids/). */
  grids?: Record<string, string>;
  /** The 2-D multimodality panel. */
  scatter?: ScatterPanel;
}

export interface WrittenReport {
  indexHtml: string;
  resultsJson: string;
  /** SVG and PNG of every chart. */
  charts: RenderedChart[];
}

/** The machine this process runs on, for ComparisonMeta.machine. */
export function describeMachine(): MachineInfo {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown CPU',
    cores: list.length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
    platform: `${process.platform}-${process.arch}`,
  };
}

function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-');
}

async function assertPng(path: string, method: string): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error('not a file');
  } catch (e) {
    throw new LdmError('FILE_NOT_FOUND', `writeReport: image grid for method '${method}' not found at ${path} (expected a PNG file)`, { cause: e });
  }
  const { readFile } = await import('node:fs/promises');
  const head = (await readFile(path)).subarray(0, 8);
  if (!head.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    throw new LdmError('BAD_DATA', `writeReport: ${path} (grid of '${method}') is not a PNG file`);
  }
}

/**
 * Writes the comparison report into `outDir`: index.html, results.json, charts/*.svg + *.png and
 * grids/*.png. The page references only files beside it, so it opens offline and can be archived as a folder.
 */
export async function writeReport(outDir: string, results: ComparisonResults, options: WriteReportOptions = {}): Promise<WrittenReport> {
  validateResults(results);
  const grids = options.grids ?? {};
  const names = new Set(results.methods.map((m) => m.name));
  for (const [method, path] of Object.entries(grids)) {
    if (!names.has(method))
      throw new LdmError('INVALID_ARGUMENT', `writeReport: grid given for unknown method '${method}' (methods: ${[...names].join(', ')})`);
    await assertPng(path, method);
  }
  const chartsDir = join(outDir, 'charts');
  const gridsDir = join(outDir, 'grids');
  await mkdir(chartsDir, { recursive: true });
  await mkdir(gridsDir, { recursive: true });

  const gridLinks = new Map<string, string>();
  for (const [method, path] of Object.entries(grids)) {
    const file = `${slug(method)}.png`;
    await copyFile(path, join(gridsDir, file));
    gridLinks.set(method, `grids/${file}`);
  }

  const charts: RenderedChart[] = [];
  charts.push(await writeChart(chartsDir, 'fid-vs-steps', 'FID against sampling steps', fidVsStepsSpec(results)));
  charts.push(await writeChart(chartsDir, 'fid-vs-time', 'FID against wall time per sample', fidVsTimeSpec(results)));
  let scatterChart: RenderedChart | undefined;
  if (options.scatter) {
    scatterChart = await writeChart(chartsDir, 'toy2d', '2-D samples over the true modes', scatterSpec(options.scatter));
  }

  const indexHtml = join(outDir, 'index.html');
  const resultsJson = join(outDir, 'results.json');
  const json = { ...results, toy2d: options.scatter ?? null, grids: Object.fromEntries(gridLinks) };
  await writeFile(resultsJson, `${JSON.stringify(json, null, 2)}\n`);
  await writeFile(indexHtml, renderPage(results, { charts, grids: gridLinks, ...(scatterChart ? { scatterChart } : {}) }, options.scatter));
  return { indexHtml, resultsJson, charts: scatterChart ? [...charts, scatterChart] : charts };
}
