/**
 * Admits work until closed, then refuses it; `close()` resolves once the admitted work has settled.
 * Shutdown uses one per entry point (MQTT intake, SMPP deliver_sm) so that nothing new starts while
 * what already started finishes.
 */
export class WorkGate {
  private open = true;
  /** work admitted and not yet settled */
  private inFlight = 0;
  /** close() waiting for `inFlight` to reach 0 */
  private readonly idle: Array<() => void> = [];
  /** one handler for every settled piece of work, not two closures and a promise each */
  private readonly settled = (): void => {
    this.inFlight--;
    if (this.inFlight === 0 && this.idle.length > 0) for (const wake of this.idle.splice(0)) wake();
  };

  get closed(): boolean {
    return !this.open;
  }

  /** Work started and not yet settled. */
  get pending(): number {
    return this.inFlight;
  }

  /** Runs `work` and tracks it; `undefined` (and `work` not run) once the gate is closed. */
  run<T>(work: () => Promise<T>): Promise<T> | undefined {
    if (!this.open) return undefined;
    let promise: Promise<T>;
    try {
      promise = work();
    } catch (err) {
      promise = Promise.reject(err);
    }
    return this.track(promise);
  }

  /** Tracks work already started (`run` without a closure); `undefined` once the gate is closed. */
  track<T>(promise: Promise<T>): Promise<T> | undefined {
    if (!this.open) return undefined;
    this.inFlight++;
    promise.then(this.settled, this.settled);
    return promise;
  }

  /** Refuses new work; resolves when the work already admitted has settled. */
  async close(): Promise<void> {
    this.open = false;
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }
}
