import { existsSync } from 'node:fs';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { fakeResults, fakeScatter, writeFakeGrids } from './test-fixtures';
import { writeReport } from './write-report';

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

describe('the report in a real browser', () => {
  it('renders the table, charts, grids and 2-D panel with no console errors', async () => {
    // Fails rather than skips: a report nobody opened in a browser is not tested.
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get update && apt-get install -y chromium\` (or set CHROMIUM_PATH)`);
    }
    const dir = await mkdtemp(join(tmpdir(), 'ldm-report-browser-'));
    const results = fakeResults();
    const grids = await writeFakeGrids(
      join(dir, 'in'),
      results.methods.map((m) => m.name),
    );
    const out = join(dir, 'report');
    const { indexHtml } = await writeReport(out, results, { grids, scatter: fakeScatter() });

    const context = await chromium.launchPersistentContext(await mkdtemp(join(tmpdir(), 'ldm-chromium-profile-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1400, height: 900 },
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
      await page.goto(pathToFileURL(indexHtml).href, { waitUntil: 'load' });

      const images = await page.$$eval('img', (imgs) => imgs.map((i) => ({ src: i.getAttribute('src'), complete: i.complete, width: i.naturalWidth })));
      // 3 charts (two quality charts and the 2-D panel) and one grid a method.
      expect(images.length).toBe(3 + results.methods.length);
      for (const img of images) expect(img, `image ${img.src}`).toMatchObject({ complete: true, width: expect.any(Number) });
      expect(images.filter((i) => i.width === 0).map((i) => i.src)).toEqual([]);

      const rowNames = await page.$$eval('#methods tbody tr', (rows) => rows.map((r) => r.getAttribute('data-method')));
      expect(rowNames).toEqual(results.methods.map((m) => m.name));
      const bestCells = await page.$$eval('#methods td.best', (cells) => cells.length);
      expect(bestCells).toBeGreaterThanOrEqual(5);
      expect(await page.$$eval('#toy2d-table tbody tr', (rows) => rows.length)).toBe(3);
      expect(await page.textContent('#provenance pre')).toContain(results.meta.commands[0]);
      expect(errors).toEqual([]);

      const shot = join(out, 'screenshot.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect((await stat(shot)).size).toBeGreaterThan(10_000);
    } finally {
      await context.close();
    }
  });
});
