/** The oneDNN kernels, each working in place on one ArrayBuffer (the wasm backend's heap), offsets in bytes. */
export interface OneDnnBinding {
  /** params: [N, H, W, Cin, KH, KW, Cout, OH, OW, strideH, strideW, dilH, dilW, padTop, padLeft, padBottom, padRight] */
  /** bias: offset of a float32 [Cout] added to every output pixel, or omitted / −1. */
  conv2dForward(heap: ArrayBuffer, params: Int32Array, x: number, filter: number, y: number, bias?: number): void;
  conv2dBackwardData(heap: ArrayBuffer, params: Int32Array, dy: number, filter: number, dx: number): void;
  conv2dBackwardWeights(heap: ArrayBuffer, params: Int32Array, x: number, dy: number, dFilter: number): void;
  /** params: [batchA, batchB, M, K, N, transposeA, transposeB]; a batch of 1 is broadcast. */
  batchMatMul(heap: ArrayBuffer, params: Int32Array, a: number, b: number, c: number): void;
  /** params: [B, HW, C, G, silu?]; writes y (SiLU of the normalised value when silu = 1), and mean and 1/std per [b, g]. */
  groupNormForward(heap: ArrayBuffer, params: Int32Array, eps: number, x: number, gamma: number, beta: number, y: number, mean: number, inv: number): void;
  groupNormBackward(
    heap: ArrayBuffer,
    params: Int32Array,
    dy: number,
    x: number,
    gamma: number,
    mean: number,
    inv: number,
    dx: number,
    dGamma: number,
    dBeta: number,
    /** With params[4] = 1 (SiLU after the norm): beta, to recompute the normalised value. */
    beta?: number,
  ): void;
  siluForward(heap: ArrayBuffer, size: number, x: number, y: number): void;
  siluBackward(heap: ArrayBuffer, size: number, dy: number, x: number, dx: number): void;
  /**
   * One Adam/AdamW step of many parameters. tensors: per parameter [size, p, g, m, v, pOut, mOut, vOut] (byte offsets);
   * attrs: [beta1, beta2, epsilon, coupledWeightDecay, decoupledDecay, stepSize, biasCorrection2Sqrt]; clip: offset of a
   * float32 scalar that scales every gradient, or −1.
   */
  adamSteps(heap: ArrayBuffer, tensors: Float64Array, attrs: Float64Array, clip: number): void;
  /** s′ = s − (s − p)·oneMinusDecay for every tensor (per tensor [size, s, p, sOut]). */
  emaUpdate(heap: ArrayBuffer, tensors: Float64Array, oneMinusDecay: number): void;
  /** out[0] = √(Σ g²) over every tensor (per tensor [size, offset]), float32 summed in order as tfjs' ops on wasm. */
  globalNorm(heap: ArrayBuffer, tensors: Float64Array, out: number): void;
  /** out = a + b for a of [groups, rows, cols] float32; b is a's shape (sameShape = 1) or [groups, cols], added to each of its group's rows. */
  addRows(heap: ArrayBuffer, groups: number, rows: number, cols: number, sameShape: number, a: number, b: number, out: number): void;
  /** Sums [groups, rows, cols] over rows into [groups, cols] (float64 accumulation). */
  sumLeading(heap: ArrayBuffer, groups: number, rows: number, cols: number, x: number, y: number): void;
  /** dst[r·dstStride + k] = src[r·srcStride + k] for r < rows, k < run (float32 elements; offsets in bytes). */
  copyRows(heap: ArrayBuffer, rows: number, run: number, srcStride: number, dstStride: number, src: number, dst: number): void;
  /** y = x transposed: params [rank, shape…, perm…] (float32, rank 1–8). */
  transpose(heap: ArrayBuffer, params: Int32Array, x: number, y: number): void;
  /** y = x padded with `value`: params [rank, inShape…, before…, after…] (float32, rank 1–8). */
  pad(heap: ArrayBuffer, params: Int32Array, value: number, x: number, y: number): void;
  /** Nearest resizing of NHWC float32: params [B, H, W, C, OH, OW]; output row i reads input row rowOf[i], column j column colOf[j]. */
  resizeNearest(heap: ArrayBuffer, params: Int32Array, rowOf: Int32Array, colOf: Int32Array, x: number, y: number): void;
  /** Average pooling of NHWC float32 over non-overlapping KH×KW windows: params [B, H, W, C, KH, KW]. */
  avgPoolBlocks(heap: ArrayBuffer, params: Int32Array, x: number, y: number): void;
  /** Threads oneDNN uses inside each operation (OpenMP). */
  setThreads(n: number): void;
  /**
   * 'bf16': every convolution reads its inputs rounded to bfloat16 and accumulates and writes float32 (needs a CPU with
   * bfloat16 dot products to be fast); 'f32' (the default): float32 throughout. Process-wide (worker threads too).
   */
  setConvPrecision(precision: 'f32' | 'bf16'): void;
  getConvPrecision(): 'f32' | 'bf16';
  getThreads(): number;
  /** How many convolutions ran our direct kernels for a narrow side (≤ 4 channels in or out) instead of oneDNN's, since load. */
  narrowConvCalls(): number;
  version(): { onednn: string; isa: string };
}

/** The loaded addon, or null when it is not built here. */
export declare const binding: OneDnnBinding | null;
/** Why `binding` is null (one line), or null when it loaded. */
export declare const error: string | null;
