import type { Logger } from './logger.js';

/** The steps of a shutdown as they run, so that a deadline can name the ones still running. */
export class StopSteps {
  private readonly running = new Set<string>();

  constructor(private readonly log: Logger) {}

  /** Steps started and not yet finished. */
  get pending(): string[] {
    return [...this.running];
  }

  /** Runs one step; a failing step is logged and the shutdown goes on with the next. */
  async run(name: string, step: () => Promise<void>): Promise<void> {
    this.running.add(name);
    this.log.debug({ step: name }, 'stopping');
    try {
      await step();
    } catch (err) {
      this.log.error({ err, step: name }, 'error while stopping');
    } finally {
      this.running.delete(name);
    }
  }
}
