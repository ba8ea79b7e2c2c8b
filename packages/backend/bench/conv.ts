/**
 * Conv2D forward, input-gradient and filter-gradient throughput, stock tfjs kernels against this
 * package's forward-conv gradients, on each backend that runs here.
 *
 *   pnpm --filter @ldm/backend bench            # all shapes; cpu on the smallest only
 *   pnpm --filter @ldm/backend bench -- --quick # fewer repetitions
 *
 * Prints a table and writes it as JSON to bench/results/conv.json. GFLOP/s counts 2·MACs of the
 * forward conv for all three ops (each gradient does the same multiply-adds), over process CPU time
 * (the machine is shared; see cpuMs).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { conv2dFilterGradient, conv2dInputGradient, Generator, initBackend, randn, setInputGradientMethod } from '@ldm/backend';
import type { Conv2DAttrs } from '@ldm/backend';

interface Shape {
  label: string;
  batch: number;
  size: number;
  cin: number;
  cout: number;
  k: number;
  stride: number;
}

interface Row {
  backend: string;
  shape: string;
  op: 'forward' | 'input gradient' | 'filter gradient' | 'forward + both gradients (tf.grads)';
  impl: 'tfjs' | 'stock' | 'forward-conv' | 'forward-conv, zero-dilated dy';
  /** Median process CPU time of one call. */
  ms: number | null;
  gflops: number | null;
  /** GFLOP/s as a fraction of the forward conv's, same shape and backend (for the step row: its time ÷ one forward). */
  ofForward: number | null;
  note?: string;
}

const shapes: Shape[] = [
  { label: 'B32 16×16 64→64 3×3 s1', batch: 32, size: 16, cin: 64, cout: 64, k: 3, stride: 1 },
  { label: 'B64 8×8 128→128 3×3 s1', batch: 64, size: 8, cin: 128, cout: 128, k: 3, stride: 1 },
  { label: 'B128 28×28 32→32 3×3 s1', batch: 128, size: 28, cin: 32, cout: 32, k: 3, stride: 1 },
  { label: 'B32 32×32 64→64 3×3 s2', batch: 32, size: 32, cin: 64, cout: 64, k: 3, stride: 2 },
];

const quick = process.argv.includes('--quick');
const slow = process.argv.includes('--slow');
const rounds = quick ? 3 : 7;

interface Candidate {
  op: Row['op'];
  impl: Row['impl'];
  run: () => tf.Tensor | tf.Tensor[];
}

/**
 * Process CPU time (user + system) of one call, in ms, output read back. wasm runs on one thread,
 * so CPU time is the work done whatever else the machine runs; wall time is not, on a shared box.
 */
function cpuMs(run: () => tf.Tensor | tf.Tensor[]): number {
  const before = process.cpuUsage();
  const out = run();
  for (const t of Array.isArray(out) ? out : [out]) t.dataSync();
  tf.dispose(out);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/** Medians over interleaved rounds (each round runs every candidate once), after one warm-up each. */
function measure(candidates: Candidate[]): number[] {
  const samples = candidates.map(() => [] as number[]);
  for (const c of candidates) cpuMs(c.run);
  for (let r = 0; r < rounds; r++) candidates.forEach((c, i) => samples[i]!.push(cpuMs(c.run)));
  return samples.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!);
}

async function benchShape(backend: string, s: Shape): Promise<Row[]> {
  const g = new Generator(1);
  const x = randn([s.batch, s.size, s.size, s.cin], g) as tf.Tensor4D;
  const w = randn([s.k, s.k, s.cin, s.cout], g) as tf.Tensor4D;
  const attrs: Conv2DAttrs = { strides: s.stride, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
  const y = tf.conv2d(x, w, s.stride, 'same');
  const dy = randn(y.shape, g) as tf.Tensor4D;
  const flop = 2 * y.size * s.k * s.k * s.cin;
  y.dispose();
  const stockAttrs = { strides: s.stride, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
  const step = () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s.stride, 'same'), dy)))([x, w]);

  const candidates: Candidate[] = [
    { op: 'forward', impl: 'tfjs', run: () => tf.conv2d(x, w, s.stride, 'same') },
    {
      op: 'input gradient',
      impl: 'stock',
      run: () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...stockAttrs, inputShape: x.shape } as never) as tf.Tensor,
    },
    { op: 'input gradient', impl: 'forward-conv', run: () => conv2dInputGradient(dy, w, x.shape, attrs) },
    ...(s.stride > 1
      ? [
          {
            op: 'input gradient' as const,
            impl: 'forward-conv, zero-dilated dy' as const,
            run: () => {
              setInputGradientMethod('dilate');
              try {
                return conv2dInputGradient(dy, w, x.shape, attrs);
              } finally {
                setInputGradientMethod('phases');
              }
            },
          },
        ]
      : []),
    { op: 'filter gradient', impl: 'forward-conv', run: () => conv2dFilterGradient(x, dy, w.shape, attrs) },
    { op: 'forward + both gradients (tf.grads)', impl: 'forward-conv', run: step },
  ];
  let stockFilterNote: string | undefined;
  if (tf.getKernel('Conv2DBackpropFilter', backend) === undefined) stockFilterNote = 'kernel Conv2DBackpropFilter not registered';
  else if (!slow) stockFilterNote = 'skipped (about a minute a call on cpu; --slow runs it)';
  else {
    candidates.push({
      op: 'filter gradient',
      impl: 'stock',
      run: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...stockAttrs, filterShape: w.shape } as never) as tf.Tensor,
    });
  }

  const ms = measure(candidates);
  const forwardMs = ms[0]!;
  const rows: Row[] = candidates.map((c, i) => {
    const isStep = c.op.startsWith('forward +');
    const gflops = ((isStep ? 3 : 1) * flop) / (ms[i]! * 1e6);
    return {
      backend,
      shape: s.label,
      op: c.op,
      impl: c.impl,
      ms: ms[i]!,
      gflops,
      ofForward: isStep ? ms[i]! / forwardMs : forwardMs / ms[i]!,
    };
  });
  if (stockFilterNote !== undefined) {
    rows.push({ backend, shape: s.label, op: 'filter gradient', impl: 'stock', ms: null, gflops: null, ofForward: null, note: stockFilterNote });
  }
  const order = ['forward', 'input gradient', 'filter gradient', 'forward + both gradients (tf.grads)'];
  const impls = ['tfjs', 'stock', 'forward-conv', 'forward-conv, zero-dilated dy'];
  rows.sort((a, b) => order.indexOf(a.op) - order.indexOf(b.op) || impls.indexOf(a.impl) - impls.indexOf(b.impl));
  tf.dispose([x, w, dy]);
  return rows;
}

function printTable(rows: Row[]): void {
  const header = ['backend', 'shape', 'op', 'impl', 'CPU ms', 'GFLOP/s', 'vs forward'];
  const cells = rows.map((r) => [
    r.backend,
    r.shape,
    r.op,
    r.impl,
    r.ms === null ? '—' : r.ms.toFixed(1),
    r.gflops === null ? '—' : r.gflops.toFixed(1),
    r.ofForward === null ? (r.note ?? '—') : r.op.startsWith('forward +') ? `${r.ofForward.toFixed(2)}× time` : `${(100 * r.ofForward).toFixed(0)}%`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const c of cells) console.log(line(c));
}

const rows: Row[] = [];
for (const backend of ['wasm', 'cpu'] as const) {
  const info = await initBackend({ backend });
  // cpu runs about 0.7 GFLOP/s: the smallest shape only.
  const todo = backend === 'cpu' ? shapes.slice(0, 1) : shapes;
  for (const s of todo) {
    process.stderr.write(`${info.name}: ${s.label}\n`);
    rows.push(...(await benchShape(info.name, s)));
  }
}
printTable(rows);

const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'conv.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, tfjs: tf.version_core, timing: 'median process CPU ms', rounds, rows }, null, 2)}\n`,
);
console.log(`wrote ${out}`);
