import type { Priority } from '../rules/schema.js';
import type { Alert, Held } from './types.js';

/** An SMS the book decided on; committed by the engine. */
export interface Outgoing {
  phone: string;
  text: string;
  priority: Priority;
  kind: 'alert' | 'digest' | 'notice';
  ruleId: string | undefined;
  deviceId: string | undefined;
  ref: string | undefined;
  /** the alert recipients it tells, so that receipts find their way back */
  tells: Array<{ alertId: number; phone: string }>;
}

/** Everything one operation changed, to be committed together. */
export class Batch {
  readonly alerts = new Set<Alert>();
  /** alerts whose state changed: one retained event each */
  readonly events = new Set<Alert>();
  readonly sms: Outgoing[] = [];
  readonly heldAdded: Held[] = [];
  readonly heldRemoved: number[] = [];
  readonly heldMoved: Array<{ phone: string; flushAt: number }> = [];
  readonly sent: Array<{ phone: string; at: number }> = [];
  readonly dropped: Array<{ phone: string; alertId: number; why: string }> = [];
}
