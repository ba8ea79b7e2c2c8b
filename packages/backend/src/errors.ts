const marker = Symbol.for('ldm.error');

/**
 * The one error type of the project. `code` is machine-readable; the message names the file or
 * option at fault and what was expected, so the CLI can print it on one line.
 * Identified by a `Symbol.for` marker rather than `instanceof`, so the check holds when two
 * copies of the package are installed.
 */
export class LdmError extends Error {
  /** What isLdmError looks for (see above). */
  readonly [marker] = true;
  override name = 'LdmError';
  readonly code: LdmErrorCode;

  constructor(code: LdmErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  static isInstance(error: unknown): error is LdmError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }
}

export type LdmErrorCode =
  | 'BACKEND_UNAVAILABLE'
  | 'INVALID_ARGUMENT'
  | 'INVALID_CONFIG'
  | 'SHAPE_MISMATCH'
  | 'FILE_NOT_FOUND'
  | 'CORRUPT_FILE'
  | 'MISSING_KEYS'
  | 'BAD_DATA'
  | 'NUMERICAL_ERROR'
  | 'STAGE_FAILED';
