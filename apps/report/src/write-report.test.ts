import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { fakeResults, fakeScatter, writeFakeGrids } from './test-fixtures';
import { writeReport } from './write-report';
import type { MethodResult } from './results';

describe('writeReport', () => {
  let dir: string;
  let grids: Record<string, string>;
  const results = fakeResults();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ldm-report-'));
    grids = await writeFakeGrids(
      join(dir, 'in'),
      results.methods.map((m) => m.name),
    );
  });

  it('writes index.html, results.json, charts (SVG + PNG) and grids', async () => {
    const out = join(dir, 'report');
    const written = await writeReport(out, results, { grids, scatter: fakeScatter() });
    expect((await readdir(join(out, 'charts'))).sort()).toEqual([
      'fid-vs-steps.png',
      'fid-vs-steps.svg',
      'fid-vs-time.png',
      'fid-vs-time.svg',
      'toy2d.png',
      'toy2d.svg',
    ]);
    expect((await readdir(join(out, 'grids'))).length).toBe(results.methods.length);
    for (const c of written.charts) {
      const svg = await readFile(c.svgPath, 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      // Every plotted FID is a mark; a chart with no data would still be a valid empty SVG.
      expect(svg).toMatch(/<path|<circle/);
      const meta = await sharp(c.pngPath).metadata();
      expect(meta.format).toBe('png');
      expect(meta.width).toBeGreaterThan(300);
    }
    const json = JSON.parse(await readFile(written.resultsJson, 'utf8'));
    expect(json.methods).toEqual(results.methods);
    expect(json.meta.commands).toEqual(results.meta.commands);
    expect(json.toy2d.methods).toHaveLength(3);

    const html = await readFile(written.indexHtml, 'utf8');
    for (const m of results.methods) expect(html).toContain(`data-method="${m.name}"`);
    // Nothing fetched from the network: no absolute URLs in src/href.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    for (const cmd of results.meta.commands) expect(html).toContain(cmd);
  });

  it('prints reference figures under the table only when given, labelled as measured elsewhere', async () => {
    const withRefs = { ...results, meta: { ...results.meta, references: [{ label: 'PyTorch anchor, DDIM-50', fid: 159, fidFloor: 102, source: 'issue 14' }] } };
    await writeReport(join(dir, 'refs'), withRefs, { grids: {} });
    const html = await readFile(join(dir, 'refs', 'index.html'), 'utf8');
    const refs = html.split('id="references"')[1]!.split('</div>')[0]!;
    expect(refs).toContain('measured elsewhere');
    expect(refs).toContain('PyTorch anchor, DDIM-50: FID <strong>159</strong>');
    expect(refs).toContain('/ 102');
    await writeReport(join(dir, 'norefs'), results, { grids: {} });
    expect(await readFile(join(dir, 'norefs', 'index.html'), 'utf8')).not.toContain('id="references"');
  });

  it('explains the training digits row only when the report has one', async () => {
    const sentence = 'a copy of them scores above the floor';
    const training: MethodResult = { ...results.methods[0]!, name: 'training-digits', label: 'The training digits themselves', fid: 1.2 };
    await writeReport(join(dir, 'train-row'), { ...results, methods: [...results.methods, training] }, { grids: {} });
    expect(await readFile(join(dir, 'train-row', 'index.html'), 'utf8')).toContain(sentence);
    await writeReport(join(dir, 'no-train-row'), results, { grids: {} });
    expect(await readFile(join(dir, 'no-train-row', 'index.html'), 'utf8')).not.toContain(sentence);
  });

  it('highlights the best FID in the row that has it, ignoring baselines', async () => {
    const out = join(dir, 'best');
    await writeReport(out, results, { grids: {} });
    const html = await readFile(join(out, 'index.html'), 'utf8');
    const nonBaseline = results.methods.filter((m) => m.sampler !== 'baseline');
    const bestFid = nonBaseline.reduce((a, b) => (a.fid! < b.fid! ? a : b));
    const rowOf = (name: string): string => html.split(`data-method="${name}"`)[1]!.split('</tr>')[0]!;
    expect(rowOf(bestFid.name)).toMatch(/class="num best" title="FID/);
    const worst = nonBaseline.reduce((a, b) => (a.fid! > b.fid! ? a : b));
    expect(rowOf(worst.name)).not.toMatch(/class="num best" title="FID/);
    // The noise baseline is the fastest row but must not be highlighted as such.
    expect(rowOf('noise')).not.toContain('best');
  });

  it('rejects invalid results and missing or non-PNG grids with errors naming the problem', async () => {
    const bad = fakeResults();
    bad.methods[1]!.msPerSample = Number.NaN;
    bad.methods[2]!.name = bad.methods[3]!.name;
    await expect(writeReport(join(dir, 'bad'), bad)).rejects.toThrow(/msPerSample must be a finite number.*name is used twice/);
    await expect(writeReport(join(dir, 'bad'), results, { grids: { vae: join(dir, 'nope.png') } })).rejects.toThrow(/vae.*not found at .*nope\.png/);
    await writeFile(join(dir, 'fake.png'), 'not a png');
    await expect(writeReport(join(dir, 'bad'), results, { grids: { vae: join(dir, 'fake.png') } })).rejects.toThrow(/not a PNG/);
    await expect(writeReport(join(dir, 'bad'), results, { grids: { unknown: grids.vae! } })).rejects.toThrow(/unknown method 'unknown'/);
  });
});
