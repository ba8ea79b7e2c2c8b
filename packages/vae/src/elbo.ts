import * as tf from '@tensorflow/tfjs-core';
import { LdmError } from '@ldm/backend';
import type { Generator } from '@ldm/backend';
import { discretizedGaussianLogLikelihood, toTensor } from '@ldm/nn';
import type { TrainingLoss } from '@ldm/nn';
import type { AutoencoderKL } from './autoencoder-kl';

export interface ElboOptions {
  /** Noise for the one-sample Monte-Carlo estimate of E_q[log p(x|z)]. */
  generator: Generator;
  /** Weight of the KL term in `loss` (β-VAE). The reported `elbo` always uses β = 1. */
  beta?: number;
  /**
   * log σ of the decoder p(x|z) = discretized N(decode(z), σ²) on the 8-bit grid. Fixed (not fitted per
   * image) so the bound stays a bound; −2.3 ≈ log 0.1 in [−1, 1] units.
   */
  decoderLogScale?: number;
  /** Number of values per dimension of the data grid (256 for 8-bit images). */
  levels?: number;
}

export interface ElboTerms {
  /** −log p(x|z) at z ~ q(z|x), nats per image [B]. */
  reconstruction: tf.Tensor1D;
  /** KL(q(z|x) ‖ N(0, I)), nats per image [B]. */
  kl: tf.Tensor1D;
  /** log p(x) ≥ elbo = −reconstruction − kl, nats per image [B] (a single-sample estimate of the bound). */
  elbo: tf.Tensor1D;
  /** −elbo / (D ln 2): an upper bound on the negative log-likelihood in bits per dimension, [B]. */
  bitsPerDim: tf.Tensor1D;
  /** Training objective, batch mean of reconstruction + β·kl (nats). */
  loss: tf.Scalar;
}

/**
 * The VAE's evidence lower bound for images x ∈ [−1, 1] on a `levels`-value grid. The decoder is a
 * discretized Gaussian, so p(x|z) is a probability mass and −elbo is an upper bound on −log P(x) of the
 * discrete data, directly comparable with the DDPM's variational bound in bits/dim.
 */
export function vaeElbo(vae: AutoencoderKL, x: tf.Tensor4D, options: ElboOptions): ElboTerms {
  const { generator, beta = 1, decoderLogScale = Math.log(0.1), levels = 256 } = options;
  return tf.tidy(() => {
    const posterior = vae.encode(x);
    const z = posterior.sample(generator);
    const mean = vae.decode(z);
    const logp = discretizedGaussianLogLikelihood(x, mean, decoderLogScale, levels);
    const reconstruction = tf.neg(tf.sum(logp, [1, 2, 3])) as tf.Tensor1D;
    const kl = posterior.kl();
    const elbo = tf.neg(tf.add(reconstruction, kl)) as tf.Tensor1D;
    const dims = x.shape[1] * x.shape[2] * x.shape[3];
    const bitsPerDim = tf.div(tf.neg(elbo), dims * Math.LN2) as tf.Tensor1D;
    const loss = tf.mean(tf.add(reconstruction, tf.mul(kl, beta))) as tf.Scalar;
    return { reconstruction, kl, elbo, bitsPerDim, loss };
  });
}

/** What `vaeLoss` needs (plain JSON, so a data-parallel worker can rebuild the same loss). */
export interface VaeLossConfig {
  /** log σ of the discretized-Gaussian decoder (see ElboOptions). */
  decoderLogScale: number;
}

/**
 * trainVAE's loss for a batch {x, eps}: the negative β-ELBO (`vaeElbo`) with the posterior noise ε drawn on
 * the main thread (so every worker's row slice holds the noise a single-thread run draws); `info` is {beta}.
 * Reports the reconstruction, the KL and the bound in bits/dim beside the loss.
 */
export function vaeLoss(config: VaeLossConfig): TrainingLoss<AutoencoderKL> {
  return {
    recipe: { module: import.meta.url, export: 'vaeLoss', config },
    metricNames: ['reconstruction', 'kl', 'bitsPerDim'],
    compute(vae, batch, info) {
      const { beta } = info as { beta: number };
      const eps = batch.eps!.data as Float32Array;
      // The posterior draws its noise from this stand-in for the main thread's generator.
      const generator = {
        normal: (n: number) => {
          if (n !== eps.length) throw new LdmError('SHAPE_MISMATCH', `vaeLoss: the posterior asked for ${n} normals, the batch carries ${eps.length}`);
          return eps;
        },
      } as unknown as Generator;
      const terms = vaeElbo(vae, toTensor(batch.x!) as tf.Tensor4D, { generator, beta, decoderLogScale: config.decoderLogScale });
      return {
        loss: terms.loss,
        metrics: {
          reconstruction: tf.mean(terms.reconstruction) as tf.Scalar,
          kl: tf.mean(terms.kl) as tf.Scalar,
          bitsPerDim: tf.mean(terms.bitsPerDim) as tf.Scalar,
        },
      };
    },
  };
}
