/**
 * Progress of a long loop: a redrawn bar with ETA on a terminal, plain log lines otherwise
 * (CI logs, pipes), so both read well.
 */
export interface ProgressOptions {
  total: number;
  label: string;
  /** Stream to write to (default stderr, so stdout stays clean for data). */
  stream?: NodeJS.WriteStream;
  /** Plain lines at most this often when not a TTY (ms). */
  logEveryMs?: number;
  /** Start value (resume). */
  start?: number;
  /** Unit of the rate, e.g. 'img/s'. */
  rateUnit?: string;
  /** Disable all output. */
  silent?: boolean;
}

export class ProgressBar {
  private readonly stream: NodeJS.WriteStream;
  private readonly isTTY: boolean;
  private readonly startTime = performance.now();
  private readonly startValue: number;
  private lastDraw = 0;
  private lastLog = 0;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.isTTY = Boolean(this.stream.isTTY) && !process.env.CI;
    this.startValue = options.start ?? 0;
  }

  /** Moves to `value`; `fields` are shown after the bar (loss, rate, …). `rateCount` counts items (e.g. images) done since start. */
  update(value: number, fields: Record<string, string | number> = {}, rateCount?: number): void {
    if (this.options.silent) return;
    const now = performance.now();
    const elapsed = (now - this.startTime) / 1000;
    const done = value - this.startValue;
    const remaining = this.options.total - value;
    const eta = done > 0 ? (elapsed / done) * remaining : NaN;
    const rate = rateCount !== undefined && elapsed > 0 ? `${(rateCount / elapsed).toFixed(1)} ${this.options.rateUnit ?? 'it/s'}` : '';
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : v}`)
      .join('  ');
    const text = `${value}/${this.options.total}  ${extra}${rate ? `  ${rate}` : ''}  elapsed ${formatDuration(elapsed)}  eta ${formatDuration(eta)}`;
    if (this.isTTY) {
      if (now - this.lastDraw < 100 && value < this.options.total) return;
      this.lastDraw = now;
      const width = 24;
      const filled = Math.round((value / this.options.total) * width);
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      this.stream.write(`\r\x1b[2K${this.options.label} ${bar} ${text}`);
    } else {
      const every = this.options.logEveryMs ?? 10_000;
      if (now - this.lastLog < every && value < this.options.total && value !== this.startValue + 1) return;
      this.lastLog = now;
      this.stream.write(`${this.options.label} ${text}\n`);
    }
  }

  /** Changes the total (when it is known only after the work starts). */
  setTotal(total: number): void {
    this.options.total = total;
  }

  /** Ends the bar line. */
  done(message?: string): void {
    if (this.options.silent) return;
    if (this.isTTY) this.stream.write('\n');
    if (message) this.stream.write(`${message}\n`);
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

function formatNumber(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.001 ? v.toExponential(3) : v.toPrecision(4);
}
