/*
 * Turning a failed backend load into one line a user can act on. Pure functions of the error, so
 * every branch is testable with fake errors (the real native packages cannot load here).
 */

export type NativeBackendName = 'tensorflow-gpu' | 'tensorflow';

/** The npm package behind each native backend, and the version this project is built against. */
export const nativeBackendPackages: Record<NativeBackendName, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};
export const TFJS_VERSION = '4.22.0';

/** Why a backend could not start, classified from the error its package threw. */
export type BackendFailureKind = 'not-installed' | 'binding-not-built' | 'missing-cuda-library' | 'missing-shared-library' | 'other';

const cudaLibrary = /\blib(?:cudart|cublas|cublasLt|cudnn|cufft|curand|cusolver|cusparse|nvinfer)\.so(?:\.[\d.]+)?/;
const sharedLibrary = /\b(lib[\w+-]+\.so(?:\.[\d.]+)?): cannot open shared object file/;

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The first non-empty line of an error message, shortened: the rest is a stack or advice we replace. */
export function firstLine(error: unknown, max = 160): string {
  const line =
    messageOf(error)
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? 'unknown error';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export function classifyBackendFailure(error: unknown, packageName: string): BackendFailureKind {
  const message = messageOf(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (cudaLibrary.test(message)) return 'missing-cuda-library';
  if (/tfjs_binding\.node/.test(message) || /napi-v\d/.test(message)) return 'binding-not-built';
  if (sharedLibrary.test(message)) return 'missing-shared-library';
  if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (?:module|package)/.test(message)) && message.includes(packageName)) {
    return 'not-installed';
  }
  return 'other';
}

/**
 * One line saying why a native backend did not start and how to get it: which package, the install
 * command, and for the GPU build the CUDA/cuDNN versions libtensorflow 2.9.1 was built against.
 */
export function nativeBackendFailureMessage(backend: NativeBackendName, error: unknown): string {
  const pkg = nativeBackendPackages[backend];
  const install = `pnpm add ${pkg}@${TFJS_VERSION}`;
  const fallback = backend === 'tensorflow-gpu' ? `--backend tensorflow or --backend wasm` : `--backend wasm`;
  const kind = classifyBackendFailure(error, pkg);
  switch (kind) {
    case 'not-installed':
      return (
        `backend '${backend}' is unavailable: ${pkg} is not installed. ` +
        `Install it with \`${install}\` on a machine that can download libtensorflow (its install script fetches it), or use ${fallback}.`
      );
    case 'binding-not-built':
      return (
        `backend '${backend}' is unavailable: ${pkg} is installed but its native binding was not built ` +
        `(its install script, which downloads libtensorflow, did not run or failed). ` +
        `Run \`${install}\` with install scripts allowed (pnpm: add it to pnpm.onlyBuiltDependencies, or \`pnpm rebuild ${pkg}\`) ` +
        `on a machine that can reach storage.googleapis.com, or use ${fallback}.`
      );
    case 'missing-cuda-library': {
      const library = cudaLibrary.exec(messageOf(error))?.[0] ?? 'a CUDA library';
      return (
        `backend '${backend}' is unavailable: ${pkg} could not open ${library}. ` +
        `${pkg}@${TFJS_VERSION} loads libtensorflow 2.9.1, built for CUDA 11.2 and cuDNN 8.1; ` +
        `install those runtime libraries (they can sit beside a newer CUDA, on LD_LIBRARY_PATH), or use ${fallback}.`
      );
    }
    case 'missing-shared-library': {
      const library = sharedLibrary.exec(messageOf(error))?.[1] ?? 'a shared library';
      return (
        `backend '${backend}' is unavailable: ${pkg} could not open ${library} (${firstLine(error, 100)}). ` +
        `Reinstall it with \`${install}\`, or use ${fallback}.`
      );
    }
    case 'other':
      return `backend '${backend}' is unavailable: ${pkg} failed to load (${firstLine(error)}). Reinstall it with \`${install}\`, or use ${fallback}.`;
  }
}

/** A short reason for the `tried` list of `auto`, e.g. "native binding not built". */
export function shortFailureReason(backend: NativeBackendName, error: unknown): string {
  const pkg = nativeBackendPackages[backend];
  switch (classifyBackendFailure(error, pkg)) {
    case 'not-installed':
      return `${pkg} not installed`;
    case 'binding-not-built':
      return `${pkg} installed without its native binding`;
    case 'missing-cuda-library':
      return `${cudaLibrary.exec(messageOf(error))?.[0] ?? 'CUDA library'} not found (needs CUDA 11.2 + cuDNN 8.1)`;
    case 'missing-shared-library':
      return `${sharedLibrary.exec(messageOf(error))?.[1] ?? 'shared library'} not found`;
    case 'other':
      return firstLine(error, 100);
  }
}
