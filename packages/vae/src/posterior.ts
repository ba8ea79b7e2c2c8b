import * as tf from '@tensorflow/tfjs-core';
import { randn } from '@ldm/backend';
import type { Generator } from '@ldm/backend';

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * diffusers' `DiagonalGaussianDistribution`: q(z|x) = N(mean, diag(exp(logvar))), logvar clamped to
 * [−30, 20] as diffusers does (keeps exp() finite in float32). Owns `mean` and `logvar`; every method
 * returns new tensors the caller owns. Reductions run over all non-batch axes, giving one value per image.
 */
export class DiagonalGaussian {
  readonly mean: tf.Tensor4D;
  readonly logvar: tf.Tensor4D;

  /** `moments` [B, H, W, 2·C]: mean in the first C channels, logvar in the last C. */
  static fromMoments(moments: tf.Tensor4D): DiagonalGaussian {
    const c = moments.shape[3] / 2;
    const [mean, logvar] = tf.tidy(() => {
      const [m, lv] = tf.split(moments, [c, c], 3) as [tf.Tensor4D, tf.Tensor4D];
      return [m, tf.clipByValue(lv, -30, 20) as tf.Tensor4D];
    }) as [tf.Tensor4D, tf.Tensor4D];
    return new DiagonalGaussian(mean, logvar);
  }

  constructor(mean: tf.Tensor4D, logvar: tf.Tensor4D) {
    this.mean = mean;
    this.logvar = logvar;
  }

  /** std = exp(logvar / 2). */
  std(): tf.Tensor4D {
    return tf.tidy(() => tf.exp(tf.mul(this.logvar, 0.5)) as tf.Tensor4D);
  }

  /** z = mean + std·ε with ε from the seeded generator (reparameterised: gradients reach mean and logvar). */
  sample(generator: Generator): tf.Tensor4D {
    return tf.tidy(() => tf.add(this.mean, tf.mul(this.std(), randn(this.mean.shape, generator))));
  }

  mode(): tf.Tensor4D {
    return tf.clone(this.mean);
  }

  /** KL(q ‖ N(0, I)) in nats per image, [B]: ½ Σ (μ² + σ² − 1 − log σ²). */
  kl(): tf.Tensor1D {
    return tf.tidy(() => tf.mul(tf.sum(tf.sub(tf.add(tf.square(this.mean), tf.exp(this.logvar)), tf.add(this.logvar, 1)), [1, 2, 3]), 0.5));
  }

  /** −log q(z) in nats per image, [B]. */
  nll(z: tf.Tensor4D): tf.Tensor1D {
    return tf.tidy(() => tf.mul(tf.sum(tf.add(tf.add(this.logvar, LOG_2PI), tf.div(tf.square(tf.sub(z, this.mean)), tf.exp(this.logvar))), [1, 2, 3]), 0.5));
  }

  dispose(): void {
    this.mean.dispose();
    this.logvar.dispose();
  }
}
