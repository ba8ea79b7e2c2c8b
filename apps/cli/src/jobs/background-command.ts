import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LdmError } from '@ldm/backend';

/** An `ldm` command running beside this one, in a child process on its own core. */
export interface BackgroundCommand {
  /** Resolves when it exits with 0; rejects with a one-line error naming its log otherwise. */
  done: Promise<void>;
  /** Interrupts it once (SIGINT: it checkpoints and stops, as at Ctrl-C; a second one would exit without a checkpoint). */
  stop: () => void;
}

/**
 * Runs `ldm ARGS…` with the same Node and loader flags as this process (sources through tsx, or the built
 * CLI), its output in `logPath`. The native kernels run one thread per process, so a second independent
 * stage is how the demo uses the second core (a second thread inside each op did not pay on these models).
 */
export async function startBackgroundCommand(args: string[], logPath: string): Promise<BackgroundCommand> {
  const entry = process.argv[1];
  if (!entry) throw new LdmError('STAGE_FAILED', 'cannot start a background ldm command: this process has no entry script');
  await mkdir(dirname(logPath), { recursive: true });
  const fd = openSync(logPath, 'w');
  // Its own process group: a Ctrl-C in the terminal reaches this process only, which passes exactly one
  // SIGINT on (two would make the child exit without its checkpoint).
  const child = spawn(process.execPath, [...process.execArgv, entry, ...args], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, OMP_NUM_THREADS: '1' },
    detached: true,
  });
  closeSync(fd);
  let stopped = false;
  const stopChild = () => {
    if (stopped || child.exitCode !== null || child.signalCode !== null) return;
    stopped = true;
    child.kill('SIGINT');
  };
  // Ends with this process, whatever ends it.
  process.once('exit', stopChild);
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new LdmError('STAGE_FAILED', `ldm ${args[0]} (background) did not start: ${error.message}`)));
    child.once('exit', (code, signal) => {
      process.removeListener('exit', stopChild);
      if (code === 0) resolve();
      else reject(new LdmError('STAGE_FAILED', `ldm ${args[0]} (background) ended with ${signal ?? `exit code ${code}`}; its log: ${logPath}`));
    });
  });
  return { done, stop: stopChild };
}
