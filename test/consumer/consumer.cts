// The same type resolution from a CommonJS TypeScript file (the `require` condition's .d.cts files).
import backend = require('@ldm/backend');
import pipeline = require('@ldm/pipeline');

export async function start(): Promise<string> {
  const info = await backend.initBackend({ backend: 'wasm' });
  const loaded: pipeline.Pipeline = await pipeline.loadPipeline('somewhere');
  loaded.dispose();
  return info.name;
}
