import type { InferredOptionType, Options, PositionalOptions } from 'yargs';

/** 'batch-size' → 'batchSize', as yargs names the camelCase copy of an option. */
type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

/**
 * The arguments a command's handler receives, inferred from its option table: camelCase keys
 * (`batch-size` → `batchSize`), each typed by its `type`, `choices`, `default` and `coerce`. One
 * table feeds both yargs and the type, so they cannot drift apart.
 */
export type ArgsOf<O extends Record<string, Options | PositionalOptions>> = {
  [K in keyof O & string as CamelCase<K>]: InferredOptionType<O[K]>;
};
