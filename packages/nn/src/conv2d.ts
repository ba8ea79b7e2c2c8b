import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError, conv2dWithBias, fusedOpsAvailable } from '@ldm/backend';
import { Module } from './module';
import { biasInit, kaimingUniformInit } from './init';

export interface Conv2dOptions {
  kernelSize?: number;
  stride?: number;
  /** Zero padding on every side, as PyTorch's `padding=`. */
  padding?: number;
  bias?: boolean;
}

/**
 * A 2-D convolution over NHWC input with PyTorch's padding semantics. The kernel is stored HWIO.
 * PyTorch pads symmetrically; tfjs' 'same' pads the extra row at the bottom for strided convs, so
 * only the stride-1 "k = 2p + 1" case maps to 'same' and the rest pad explicitly then run 'valid'.
 */
export class Conv2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    options: Conv2dOptions = {},
    generator: Generator = new Generator(0),
  ) {
    super();
    this.kernelSize = options.kernelSize ?? 3;
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    const k = this.kernelSize;
    const fanIn = inChannels * k * k;
    this.weight = this.addParameter('weight', kaimingUniformInit([k, k, inChannels, outChannels], fanIn, generator));
    this.bias = options.bias === false ? null : this.addParameter('bias', biasInit(outChannels, fanIn, generator));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
        throw new LdmError('SHAPE_MISMATCH', `Conv2d expects NHWC input with ${this.inChannels} channels, got [${x.shape}]`);
      }
      const k = this.kernelSize;
      const p = this.padding;
      let input = x;
      let pad: 'same' | 'valid' = 'valid';
      if (this.stride === 1 && k === 2 * p + 1) pad = 'same';
      else if (p > 0)
        input = tf.pad(x, [
          [0, 0],
          [p, p],
          [p, p],
          [0, 0],
        ]);
      // On the native backend one oneDNN kernel adds the bias as it writes the output (one pass over it fewer). Elsewhere
      // the plain conv keeps its registered gradient (on wasm, forward convs: wasm has no Conv2DBackpropFilter).
      if (this.bias && fusedOpsAvailable() && x.dtype === 'float32') {
        return conv2dWithBias(input, this.weight as tf.Tensor4D, this.bias as tf.Tensor1D, this.stride, pad);
      }
      const y: tf.Tensor4D = tf.conv2d(input, this.weight as tf.Tensor4D, this.stride, pad);
      return this.bias ? tf.add(y, this.bias) : y;
    });
  }

  /** Output spatial size for an input of `h`×`w`. */
  outputSize(h: number, w: number): [number, number] {
    const f = (n: number) => Math.floor((n + 2 * this.padding - this.kernelSize) / this.stride) + 1;
    return [f(h), f(w)];
  }

  /** Multiply-adds ×2 for a batch-1 input of `h`×`w`. */
  flops(h: number, w: number): number {
    const [oh, ow] = this.outputSize(h, w);
    return 2 * oh * ow * this.kernelSize * this.kernelSize * this.inChannels * this.outChannels;
  }
}
