import { BridgeError } from '../errors.js';
import type { SmppLink, SubmitParams, SubmitResult } from '../smpp/link.js';

/**
 * A connection as the sender sees it in cluster mode: bound only while this instance holds its lease, checked
 * at every submit, so an instance whose lease ran out stops submitting at once, timers late or not.
 */
export class OwnedLink implements SmppLink {
  constructor(
    private readonly inner: SmppLink,
    private readonly owns: (id: string) => boolean,
  ) {}

  get id(): string {
    return this.inner.id;
  }

  get bound(): boolean {
    return this.owns(this.inner.id) && this.inner.bound;
  }

  submit(params: SubmitParams): Promise<SubmitResult> {
    if (!this.owns(this.inner.id))
      return Promise.reject(
        new BridgeError('ERR_SMPP_NOT_BOUND', `connection ${this.inner.id} is owned by another instance`),
      );
    return this.inner.submit(params);
  }

  on(event: 'bound', listener: () => void): unknown {
    return this.inner.on(event, listener);
  }
}
