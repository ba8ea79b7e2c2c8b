import yargs from 'yargs';
import type { Argv } from 'yargs';
import { LdmError } from '@ldm/backend/errors';
import { commands } from './commands';
import { readConfigOption, setParseSource } from './options/check';
import { globalOptions } from './options/global';

/** yargs' "Missing required argument: model" names the option as it is typed: "--model: required, not given". */
function namedOptions(message: string): string {
  const missing = /^Missing required arguments?: (.+)$/.exec(message);
  if (!missing) return message;
  return `${missing[1]!
    .split(', ')
    .map((name) => `--${name}`)
    .join(', ')}: required, not given`;
}

/** Builds the `ldm` command line. Handlers load tfjs lazily, so `--help` stays instant. */
export function buildCli(argv: string[]): Argv {
  setParseSource(argv);
  const cli = yargs(argv)
    .scriptName('ldm')
    .usage(
      '$0 <command> [options]\n\nTrain a VAE, then a DDPM in its latent space (or in pixel space); sample with DDPM, DDIM or single-step VAE decoding; compare them.',
    )
    .options(globalOptions)
    .config('config', 'A JSON file of options (keys as on the command line, e.g. {"steps": 2000})', readConfigOption)
    .strict()
    .demandCommand(1, 'Name a command; see ldm --help.')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .check((args) => {
      // Told before any folder is claimed: bfloat16 convolutions exist only on the oneDNN path.
      if (args.precision === 'bf16' && args.backend !== 'auto' && args.backend !== 'native') {
        throw new LdmError('INVALID_ARGUMENT', `--precision bf16: runs on the native backend only (oneDNN), not with --backend ${String(args.backend)}`);
      }
      return true;
    })
    .fail((message, error) => {
      // yargs' own messages (choices, unknown arguments) span lines; the CLI answers on one.
      throw error ?? new LdmError('INVALID_ARGUMENT', namedOptions(message.replace(/\s*\n\s*/g, ' ')));
    });
  return cli.command(commands);
}

/** Runs the CLI; returns the exit code. Errors print as one line (with the stack under --verbose). */
export async function runCli(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  try {
    await buildCli(argv).parseAsync();
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (LdmError.isInstance(error)) {
      process.stderr.write(`error: ${error.message}\n`);
      if (verbose && error.stack) process.stderr.write(`${error.stack}\n`);
      return 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`error: ${message.split('\n')[0]}\n`);
    if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
}
