export { initBackend } from './backend';
export type { BackendName, BackendOptions, BackendInfo } from './backend';
export {
  installConvGradients,
  uninstallConvGradients,
  convGradientsInstalled,
  convGradientSupported,
  conv2dInputGradient,
  conv2dFilterGradient,
  stockConv2dGradientConfig,
} from './conv-gradients';
export type { Conv2DAttrs } from './conv-gradients';
export { LdmError } from './errors';
export type { LdmErrorCode } from './errors';
export { Generator, philox4x32 } from './random';
export type { GeneratorState } from './random';
export { randn, rand } from './tensors';
