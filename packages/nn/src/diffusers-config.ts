import { LdmError } from '@ldm/backend';

/** `blockOutChannels` → `block_out_channels`. */
export function camelToSnake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** `block_out_channels` → `blockOutChannels`. */
export function snakeToCamel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Merges a user config over `defaults`. Keys may be camelCase (the TS config) or diffusers'
 * snake_case (a config.json); keys starting with `_` (`_class_name`, `_diffusers_version`) are
 * metadata and skipped. An unknown key is an error naming it, so a typo never silently falls back
 * to a default.
 */
export function resolveConfig<T extends object>(defaults: T, input: Record<string, unknown> | Partial<T>, what: string): T {
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(input)) {
    if (key.startsWith('_')) continue;
    const camel = snakeToCamel(key);
    if (!(camel in defaults)) {
      unknown.push(key);
      continue;
    }
    if (value !== undefined) out[camel] = Array.isArray(value) ? [...value] : value;
  }
  if (unknown.length) {
    throw new LdmError(
      'INVALID_CONFIG',
      `${what}: unknown config keys ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${Object.keys(defaults).map(camelToSnake).join(', ')})`,
    );
  }
  return out as T;
}

/** The diffusers config.json form of a camelCase config: snake_case keys, `_class_name` first. */
export function toDiffusersJson(className: string, config: object, diffusersVersion = '0.38.0'): Record<string, unknown> {
  const out: Record<string, unknown> = { _class_name: className, _diffusers_version: diffusersVersion };
  for (const [k, v] of Object.entries(config)) out[camelToSnake(k)] = Array.isArray(v) ? [...v] : v;
  return out;
}
