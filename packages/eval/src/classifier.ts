import * as tf from '@tensorflow/tfjs-core';
import { Generator, LdmError } from '@ldm/backend';
import { Module } from '@ldm/nn';

/** Shape of the feature network. Defaults live in DEFAULT_CLASSIFIER_CONFIG. */
export interface ClassifierConfig {
  /** Input side in pixels; 28×28 inputs are padded with background to this size. */
  imageSize: number;
  inChannels: number;
  /** Output channels of the three 3×3 convolutions (strides 1, 2, 2). */
  channels: [number, number, number];
  /**
   * Side of the map after average pooling the last conv (1 = global average pooling). Pooling to 4×4
   * keeps where strokes are: with global pooling the same net reached 49% after one epoch, not ~95%.
   */
  pooledSize: number;
  /** Width of the feature layer whose activations FID compares. */
  featureDim: number;
  numClasses: number;
}

export const DEFAULT_CLASSIFIER_CONFIG: Readonly<ClassifierConfig> = Object.freeze({
  imageSize: 32,
  inChannels: 1,
  channels: [32, 64, 64] as [number, number, number],
  pooledSize: 4,
  featureDim: 128,
  numClasses: 10,
});

const STRIDES = [1, 2, 2] as const;

function heNormal(shape: number[], fanIn: number, generator: Generator): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = generator.normal(n);
  const std = Math.sqrt(2 / fanIn);
  for (let i = 0; i < n; i++) values[i]! *= std;
  return tf.tensor(values, shape);
}

/**
 * The small MNIST classifier whose penultimate activations are the FID features (the role Inception-v3
 * plays for ImageNet-sized images): conv 3×3 ×3 with ReLU → average pool to 4×4 → dense ReLU (features)
 * → dense (logits). Images are NHWC in [-1, 1].
 */
export class MnistClassifier extends Module {
  readonly config: ClassifierConfig;
  private readonly convs: { weight: tf.Variable; bias: tf.Variable }[] = [];
  private readonly fcWeight: tf.Variable;
  private readonly fcBias: tf.Variable;
  private readonly headWeight: tf.Variable;
  private readonly headBias: tf.Variable;

  constructor(config: Partial<ClassifierConfig> = {}, generator: Generator = new Generator(0)) {
    super();
    this.config = { ...DEFAULT_CLASSIFIER_CONFIG, ...config };
    const { inChannels, channels, featureDim, numClasses, imageSize, pooledSize } = this.config;
    const convSide = imageSize / 4;
    if (!Number.isInteger(convSide) || convSide % pooledSize !== 0) {
      throw new LdmError('INVALID_CONFIG', `MnistClassifier: pooledSize ${pooledSize} must divide the last conv map side ${imageSize}/4`);
    }
    let cin = inChannels;
    channels.forEach((cout, i) => {
      this.convs.push({
        weight: this.addParameter(`conv${i + 1}.weight`, heNormal([3, 3, cin, cout], 9 * cin, generator)),
        bias: this.addParameter(`conv${i + 1}.bias`, tf.zeros([cout])),
      });
      cin = cout;
    });
    const flat = cin * pooledSize * pooledSize;
    this.fcWeight = this.addParameter('fc.weight', heNormal([flat, featureDim], flat, generator));
    this.fcBias = this.addParameter('fc.bias', tf.zeros([featureDim]));
    // The head starts small so the first logits are near uniform.
    const head = heNormal([featureDim, numClasses], featureDim, generator);
    this.headWeight = this.addParameter('head.weight', tf.mul(head, 0.1));
    head.dispose();
    this.headBias = this.addParameter('head.bias', tf.zeros([numClasses]));
  }

  /** Pads smaller images (28×28 MNIST) with background −1 to the configured size; rejects anything else. */
  private prepare(x: tf.Tensor4D): tf.Tensor4D {
    const [, h, w, c] = x.shape;
    const size = this.config.imageSize;
    if (c !== this.config.inChannels) {
      throw new LdmError('SHAPE_MISMATCH', `MnistClassifier: expected ${this.config.inChannels}-channel NHWC images, got shape [${x.shape}]`);
    }
    if (h === size && w === size) return x;
    if (h > size || w > size || (size - h) % 2 !== 0 || (size - w) % 2 !== 0) {
      throw new LdmError('SHAPE_MISMATCH', `MnistClassifier: expected ${size}×${size} images (or smaller by an even margin), got ${h}×${w}`);
    }
    const ph = (size - h) / 2;
    const pw = (size - w) / 2;
    return tf.pad(
      x,
      [
        [0, 0],
        [ph, ph],
        [pw, pw],
        [0, 0],
      ],
      -1,
    );
  }

  /** The featureDim-wide activations FID compares: [batch, featureDim]. */
  features(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor4D = this.prepare(x);
      this.convs.forEach(({ weight, bias }, i) => {
        h = tf.relu(tf.add(tf.conv2d(h, weight as tf.Tensor4D, STRIDES[i]!, 'same'), bias)) as tf.Tensor4D;
      });
      const window = h.shape[1] / this.config.pooledSize;
      const pooled = tf.reshape(tf.avgPool(h, window, window, 'valid'), [h.shape[0], -1]) as tf.Tensor2D;
      return tf.relu(tf.add(tf.matMul(pooled, this.fcWeight), this.fcBias)) as tf.Tensor2D;
    });
  }

  /** Class scores from features: [batch, numClasses]. */
  head(features: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(features, this.headWeight), this.headBias) as tf.Tensor2D);
  }

  /** Class scores: [batch, numClasses]. */
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.head(this.features(x)));
  }
}
