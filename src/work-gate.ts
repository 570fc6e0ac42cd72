/**
 * Admits work until closed, then refuses it; `close()` resolves once the admitted work has settled.
 * Shutdown uses one per entry point (MQTT intake, SMPP deliver_sm) so that nothing new starts while
 * what already started finishes.
 */
export class WorkGate {
  private open = true;
  private readonly inFlight = new Set<Promise<unknown>>();

  get closed(): boolean {
    return !this.open;
  }

  /** Work started and not yet settled. */
  get pending(): number {
    return this.inFlight.size;
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
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return promise;
  }

  /** Refuses new work; resolves when the work already admitted has settled. */
  async close(): Promise<void> {
    this.open = false;
    await Promise.all([...this.inFlight]);
  }
}
