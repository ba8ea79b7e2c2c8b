import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap } from '@tensorflow/tfjs-core';

/*
 * Replacing a kernel's gradient in tfjs' gradient registry, reversibly. The registry is global (one
 * per process, shared by every copy of tfjs-core and every backend), so an override stores the
 * gradient it replaced on itself: a second install sees it is in place, uninstall restores it, and
 * the override can fall back to it for cases it does not cover.
 */

const stockMarker = Symbol.for('ldm.stockGradient');
type OverriddenGradConfig = GradConfig & { [stockMarker]?: GradConfig };

type GradFunc = GradConfig['gradFunc'];

function registered(kernelName: string): OverriddenGradConfig | undefined {
  return tf.getGradient(kernelName) as OverriddenGradConfig | undefined;
}

/** The gradient tfjs itself registered for `kernelName`, whether or not it is overridden now. */
export function stockGradient(kernelName: string): GradConfig {
  const current = registered(kernelName);
  const stock = current?.[stockMarker] ?? current;
  if (stock === undefined) {
    throw new Error(`no gradient is registered for kernel '${kernelName}'; import @ldm/backend (it loads tfjs' gradients) first`);
  }
  return stock;
}

export function gradientOverridden(kernelName: string): boolean {
  return registered(kernelName)?.[stockMarker] !== undefined;
}

/**
 * Registers `makeGradFunc(stock)` as the gradient of `kernelName`, keeping the stock config's
 * inputsToSave/outputsToSave so `saved` holds the same tensors. Idempotent.
 */
export function overrideGradient(kernelName: string, makeGradFunc: (stock: GradFunc) => GradFunc): void {
  if (gradientOverridden(kernelName)) return;
  const stock = stockGradient(kernelName);
  const config: OverriddenGradConfig = {
    ...stock,
    kernelName,
    gradFunc: makeGradFunc((dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: NamedAttrMap) => stock.gradFunc(dy, saved, attrs)),
    [stockMarker]: stock,
  };
  tf.registerGradient(config);
}

/** Puts tfjs' own gradient for `kernelName` back. */
export function restoreGradient(kernelName: string): void {
  const stock = registered(kernelName)?.[stockMarker];
  if (stock !== undefined) tf.registerGradient(stock);
}
