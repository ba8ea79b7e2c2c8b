/**
 * Turns SIGINT/SIGTERM into a flag the training loop polls between steps, so the loop can write
 * a checkpoint and stop cleanly instead of dying mid-step. A second signal exits at once.
 */
export class InterruptFlag {
  private signalName: NodeJS.Signals | undefined;
  private readonly handler = (signal: NodeJS.Signals): void => {
    if (this.signalName) {
      process.stderr.write(`\nsecond ${signal}: exiting without a checkpoint\n`);
      process.exit(130);
    }
    this.signalName = signal;
    process.stderr.write(`\n${signal}: finishing the current step and writing a checkpoint (press again to exit now)\n`);
  };

  constructor() {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  get raised(): NodeJS.Signals | undefined {
    return this.signalName;
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }
}
