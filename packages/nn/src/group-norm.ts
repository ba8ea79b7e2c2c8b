import * as tf from '@tensorflow/tfjs-core';
import { LdmError, fusedNormOpsAvailable, groupNormFused } from '@ldm/backend';
import { Module } from './module';
import { silu } from './activations';

/*
 * Per-channel sums over the H·W positions are computed as ones[B,1,HW] · x[B,HW,C]: a batched matMul
 * that stays on XNNPACK's fast path, where tf.moments over axes [1, 3] transposes the whole tensor
 * for every mean. The gradient is written out analytically with the same sums. Measured on wasm
 * ([32,32,32,32], 8 groups): forward 28 ms against 48 ms for tf.moments; small tensors ~5× faster.
 */

function channelSums(ones: tf.Tensor3D, r: tf.Tensor3D): tf.Tensor3D {
  return tf.matMul(ones, r); // [b, 1, c]
}

/** [b,1,c] → per-group sums broadcast back to [b,1,c]. */
function groupSumsPerChannel(s: tf.Tensor, b: number, g: number, cg: number): tf.Tensor3D {
  const grouped = tf.sum(tf.reshape(s, [b, g, cg]), 2, true);
  return tf.reshape(tf.mul(grouped, tf.ones([1, 1, cg])), [b, 1, g * cg]);
}

function groupNormOp(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, eps: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const cg = c / groups;
  const n = h * w * cg;
  const f = tf.customGrad((xi, gi, bi, save) => {
    const input = xi as tf.Tensor4D;
    const gammaC = tf.reshape(gi as tf.Tensor, [1, 1, c]);
    const betaC = tf.reshape(bi as tf.Tensor, [1, 1, c]);
    const r = tf.reshape(input, [b, h * w, c]) as tf.Tensor3D;
    const ones = tf.ones([b, 1, h * w]) as tf.Tensor3D;
    const meanC = tf.div(groupSumsPerChannel(channelSums(ones, r), b, groups, cg), n);
    const sqMeanC = tf.div(groupSumsPerChannel(channelSums(ones, tf.square(r)), b, groups, cg), n);
    // E[x²] − E[x]² can dip below 0 by rounding; activations here are O(1), so float32 keeps ~1e-6.
    const variance = tf.relu(tf.sub(sqMeanC, tf.square(meanC)));
    const invC = tf.rsqrt(tf.add(variance, eps));
    const scale = tf.mul(invC, gammaC);
    const shift = tf.sub(betaC, tf.mul(meanC, scale));
    (save as tf.GradSaveFunc)([input, gi as tf.Tensor, meanC, invC]);
    return {
      value: tf.reshape(tf.add(tf.mul(r, scale), shift), [b, h, w, c]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, mC, iC] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const g1 = tf.reshape(gs, [1, 1, c]);
        const rr = tf.reshape(xs, [b, h * w, c]) as tf.Tensor3D;
        const dyr = tf.reshape(dy, [b, h * w, c]) as tf.Tensor3D;
        const o = tf.ones([b, 1, h * w]) as tf.Tensor3D;
        const sDy = channelSums(o, dyr);
        // Σ dy·x̂ = inv·(Σ dy·x − mean·Σ dy): x̂ is never materialised
        const sDyXhat = tf.mul(iC, tf.sub(channelSums(o, tf.mul(dyr, rr) as tf.Tensor3D), tf.mul(mC, sDy)));
        const dBeta = tf.sum(sDy, [0, 1]);
        const dGamma = tf.sum(sDyXhat, [0, 1]);
        const m1 = tf.div(groupSumsPerChannel(tf.mul(sDy, g1), b, groups, cg), n);
        const m2 = tf.div(groupSumsPerChannel(tf.mul(sDyXhat, g1), b, groups, cg), n);
        // dx = inv·(γ·dy − m1 − x̂·m2) with x̂ = (x − mean)·inv, regrouped into per-channel coefficients
        const inv2m2 = tf.mul(tf.square(iC), m2);
        const coefDy = tf.mul(iC, g1);
        const coefX = tf.neg(inv2m2);
        const bias = tf.sub(tf.mul(mC, inv2m2), tf.mul(iC, m1));
        const dx = tf.add(tf.add(tf.mul(dyr, coefDy), tf.mul(rr, coefX)), bias);
        return [tf.reshape(dx, [b, h, w, c]), dGamma, dBeta];
      },
    };
  });
  return f(x, gamma, beta) as tf.Tensor4D;
}

/**
 * Group normalisation over NHWC input (tfjs has none), as torch.nn.GroupNorm: statistics per sample
 * and per group of C/G adjacent channels, then a per-channel affine, folded into one scale and shift.
 */
export class GroupNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly eps = 1e-5,
  ) {
    super();
    if (numChannels % numGroups !== 0) {
      throw new LdmError('INVALID_CONFIG', `GroupNorm: ${numChannels} channels are not divisible into ${numGroups} groups`);
    }
    this.weight = this.addParameter('weight', tf.ones([numChannels]));
    this.bias = this.addParameter('bias', tf.zeros([numChannels]));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    this.checkInput(x);
    const gamma = this.weight as tf.Tensor1D;
    const beta = this.bias as tf.Tensor1D;
    // The native backend and our wasm module run the whole op (and its gradient) as one kernel; the tfjs ops are the reference.
    if (fusedNormOpsAvailable()) return tf.tidy(() => groupNormFused(x, gamma, beta, this.numGroups, this.eps));
    return tf.tidy(() => groupNormOp(x, gamma, beta, this.numGroups, this.eps));
  }

  /** silu(forward(x)), the ResNet blocks' norm-then-activation: one kernel each way on the native and wasm backends. */
  forwardSilu(x: tf.Tensor4D): tf.Tensor4D {
    this.checkInput(x);
    if (fusedNormOpsAvailable()) return tf.tidy(() => groupNormFused(x, this.weight as tf.Tensor1D, this.bias as tf.Tensor1D, this.numGroups, this.eps, true));
    return tf.tidy(() => silu(this.forward(x)));
  }

  private checkInput(x: tf.Tensor4D): void {
    if (x.rank !== 4 || x.shape[3] !== this.numChannels) {
      throw new LdmError('SHAPE_MISMATCH', `GroupNorm expects NHWC input with ${this.numChannels} channels, got [${x.shape}]`);
    }
  }
}
