import * as tf from '@tensorflow/tfjs-core';

/** Standard normal CDF Φ(x) = ½(1 + erf(x/√2)) (erf: more accurate than Ho et al.'s tanh approximation). */
export function normalCdf(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1), 0.5);
}

/**
 * log P(x | mean, scale) per element for data on a grid of `levels` values spread over [−1, 1]
 * (8-bit images: x = 2k/255 − 1). Each value owns the bin x ± 1/(levels−1) of a Gaussian
 * N(mean, exp(logScale)²); the edge bins take the tails, so the masses sum to 1 and this is the log of a
 * true probability mass (Ho et al. 2020, §3.3). Probabilities are floored at 1e-12 only to keep log finite.
 * The VAE's decoder likelihood and the DDPM's L₀ both use it.
 */
export function discretizedGaussianLogLikelihood(x: tf.Tensor, mean: tf.Tensor, logScale: tf.Tensor | number, levels = 256): tf.Tensor {
  return tf.tidy(() => {
    const halfBin = 1 / (levels - 1);
    const invStd = typeof logScale === 'number' ? Math.exp(-logScale) : tf.exp(tf.neg(logScale));
    const centered = tf.sub(x, mean);
    const cdfPlus = normalCdf(tf.mul(invStd, tf.add(centered, halfBin)));
    const cdfMin = normalCdf(tf.mul(invStd, tf.sub(centered, halfBin)));
    const logCdfPlus = tf.log(tf.maximum(cdfPlus, 1e-12));
    const logOneMinusCdfMin = tf.log(tf.maximum(tf.sub(1, cdfMin), 1e-12));
    const logDelta = tf.log(tf.maximum(tf.sub(cdfPlus, cdfMin), 1e-12));
    const edge = 1 - halfBin;
    return tf.where(tf.less(x, -edge), logCdfPlus, tf.where(tf.greater(x, edge), logOneMinusCdfMin, logDelta));
  });
}
