export { frechetDistance } from './frechet';
export { symmetricEigen, sqrtmPsd, matmulSquare } from './linalg';
export type { SymmetricEigen } from './linalg';
export { featureStatistics } from './statistics';
export type { FeatureStatistics } from './statistics';
export { precisionRecall, kthNeighbourRadii } from './precision-recall';
export type { PrecisionRecall, PrecisionRecallOptions } from './precision-recall';
export { classShares, modeCoverage } from './class-shares';
export type { ModeCoverage } from './class-shares';
export { slicedWasserstein, wasserstein1dSquared, mmdRbf, modeShares, toyQuality } from './toy2d';
export type { SlicedWassersteinOptions, ModeShares, ToyQuality } from './toy2d';
export { timeIt, measurePeakMemory } from './timing';
export type { TimeItOptions, Timing, MemoryProbe } from './timing';
export { MnistClassifier, DEFAULT_CLASSIFIER_CONFIG } from './classifier';
export type { ClassifierConfig } from './classifier';
export { trainClassifier, DEFAULT_CLASSIFIER_TRAINING } from './classifier-training';
export type { LabelledImages, ClassifierTrainingOptions } from './classifier-training';
export {
  saveClassifier,
  loadClassifier,
  loadMnistClassifier,
  defaultClassifierDir,
  CLASSIFIER_CONFIG_NAME,
  CLASSIFIER_WEIGHTS_NAME,
} from './classifier-io';
export type { ClassifierProvenance } from './classifier-io';
export { extractFeatures, fid, fidFloor, sampleQuality } from './fid';
export type { ExtractedFeatures, SampleQuality, SampleQualityOptions } from './fid';
export type { ImageBatch } from './images';
export { fitPcaGaussian, samplePcaGaussian } from './pca-gaussian';
export type { PcaGaussianFit, PcaFitOptions, PcaSampleOptions } from './pca-gaussian';
export { fitDiagonalGmm, sampleDiagonalGmm } from './diagonal-gmm';
export type { DiagonalGmmFit, DiagonalGmmOptions } from './diagonal-gmm';
