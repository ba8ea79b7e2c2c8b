// Exports that are the same module in Node (index.ts) and in a web page (browser.ts).
export {
  nativeBackendFailureMessage,
  classifyBackendFailure,
  shortFailureReason,
  nativeBackendPackages,
} from './backend-errors';
export type { NativeBackendName, BackendFailureKind } from './backend-errors';
export {
  installConvGradients,
  uninstallConvGradients,
  convGradientsInstalled,
  convGradientSupported,
  conv2dInputGradient,
  conv2dFilterGradient,
  stockConv2dGradientConfig,
  setInputGradientMethod,
} from './conv-gradients';
export type { Conv2DAttrs } from './conv-gradients';
export {
  resizeNearestNeighborGradient,
  installResizeGradient,
  uninstallResizeGradient,
  resizeGradientInstalled,
} from './resize-gradient';
export { gatherGradient, segmentSum, installGatherGradient, uninstallGatherGradient, gatherGradientInstalled } from './gather-gradient';
export { stockGradient } from './gradient-override';
export { LdmError } from './errors';
export type { LdmErrorCode } from './errors';
export { Generator, philox4x32 } from './random';
export type { GeneratorState } from './random';
export { randn, rand } from './tensors';
export {
  kernelPath,
  setKernelPath,
  setOneDnnConvPrecision,
  oneDnnBf16UnavailableReason,
  setOneDnnThreads,
  oneDnnInfo,
  loadOneDnn,
  oneDnnUnavailableReason,
  oneDnnFallbackCounts,
  oneDnnKernelNames,
  fusedKernelNames,
} from './onednn-kernels';
export type { KernelPath } from './onednn-kernels';
export {
  fusedOpsAvailable,
  fusedNormOpsAvailable,
  fusedOptimizerOpsAvailable,
  transposedMatMulFast,
  conv2dWithBias,
  groupNormFused,
  siluFused,
  adamStepsFused,
  emaUpdateFused,
  globalNormFused,
} from './fused-ops';
export type { AdamStepAttrs } from './fused-ops';
export { installWasmSimdKernels, setWasmSimdKernels, wasmSimdKernelsActive, wasmSimdKernelCalls, wasmSimdKernelsUnavailableReason } from './wasm-simd-kernels';
