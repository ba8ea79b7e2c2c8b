import { LdmError } from './errors';

/** A web page has no file system to write to: saving a model or a folder needs Node. */
export async function writeFileAtomic(path: string, _data: Uint8Array | string, _options: { mkdir?: boolean } = {}): Promise<void> {
  throw new LdmError('INVALID_ARGUMENT', `${path}: writing files needs Node (this is @ldm/backend's browser build)`);
}
