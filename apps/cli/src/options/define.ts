import type { CommandModule, Options } from 'yargs';
import type { GlobalArgs } from './global';
import type { ArgsOf } from './types';

/**
 * A command from its option table: yargs gets the table, and the handler's argument type is inferred
 * from the same table (ArgsOf), so there is no hand-written `*Args` to keep in step. A positional
 * (`info <dir>`) is in the table too: yargs applies its `coerce` like an option's.
 */
export function defineCommand<O extends Record<string, Options>>(spec: {
  command: string;
  describe: string;
  options: O;
  handler: (args: ArgsOf<O> & GlobalArgs) => Promise<void>;
}): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: spec.command,
    describe: spec.describe,
    builder: spec.options,
    // yargs hands the handler every option under its camelCase name too (ArgumentsCamelCase); for a
    // generic table TypeScript cannot see that this covers ArgsOf, so it is said once, here.
    handler: (args) => spec.handler(args as unknown as ArgsOf<O> & GlobalArgs),
  };
}
