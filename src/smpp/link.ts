import type { InboundPdu, SubmitParams, SubmitResult } from './session.js';

export type { InboundPdu, SubmitParams, SubmitResult };

/** What the sender needs of one SMSC connection; `SmppClient` is the real one. */
export interface SmppLink {
  readonly id: string;
  readonly bound: boolean;
  submit(params: SubmitParams): Promise<SubmitResult>;
  on(event: 'bound', listener: () => void): unknown;
}
