import type { Options } from 'yargs';

const camelCase = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * The command line that gives a command these arguments: the inverse of parsing with its option table. Lets a job
 * run another command in a child process from the same typed arguments it would pass in-process, so the two cannot
 * drift apart. Undefined and false options are left out; true ones are bare flags.
 */
export function commandLine(command: string, table: Record<string, Options>, args: Record<string, unknown>): string[] {
  const argv = [command];
  for (const flag of Object.keys(table)) {
    const value = args[camelCase(flag)];
    if (value === undefined || value === false) continue;
    if (value === true) argv.push(`--${flag}`);
    else argv.push(`--${flag}`, String(value));
  }
  return argv;
}
