import type { Priority, SmsRecord } from '../store/store.js';

/**
 * A queued SMS as the sender holds it until it is submitted, when nothing has happened to it since it was
 * committed (never tried). While intake outruns the sender, thousands wait in the lanes and each one outlives
 * scavenges (issue 14): this keeps the 12 fields such a record can differ in, not its 21 fields and 4 boxed times
 * (the state, the attempts, the part counts, the connection and error are their initial values, `updatedAt` is
 * `createdAt`, and `createdAt` is kept as its distance to `expiresAt`, a small integer). `record()` gives the
 * record back, equal to the committed row, with no read of the store.
 */
export class QueuedSms {
  private constructor(
    readonly id: number,
    readonly to: string,
    readonly text: string,
    readonly priority: Priority,
    readonly source: string,
    readonly ruleId: string | undefined,
    readonly deviceId: string | undefined,
    readonly alertRef: string | undefined,
    readonly expiresAt: number,
    /** `expiresAt - createdAt` */
    private readonly life: number,
    readonly maxParts: number | undefined,
    readonly registeredDelivery: boolean | undefined,
  ) {}

  /** The lighter form of a record never tried; undefined for any other (the sender keeps the record). */
  static of(sms: SmsRecord): QueuedSms | undefined {
    if (
      sms.state !== 'queued' ||
      sms.attempts !== 0 ||
      sms.updatedAt !== sms.createdAt ||
      sms.connectionId !== null ||
      sms.errorCode !== null ||
      sms.error !== null ||
      sms.partsTotal !== 0 ||
      sms.partsDelivered !== 0 ||
      sms.partsFailed !== 0
    )
      return undefined;
    return new QueuedSms(
      sms.id,
      sms.to,
      sms.text,
      sms.priority,
      sms.source,
      sms.ruleId,
      sms.deviceId,
      sms.alertRef,
      sms.expiresAt,
      sms.expiresAt - sms.createdAt,
      sms.maxParts,
      sms.registeredDelivery,
    );
  }

  /** The record as committed (fields in the store's order, `rows.ts` `smsFromValues`). */
  record(): SmsRecord {
    const createdAt = this.expiresAt - this.life;
    return {
      id: this.id,
      createdAt,
      updatedAt: createdAt,
      to: this.to,
      text: this.text,
      priority: this.priority,
      source: this.source,
      ruleId: this.ruleId,
      deviceId: this.deviceId,
      alertRef: this.alertRef,
      expiresAt: this.expiresAt,
      maxParts: this.maxParts,
      registeredDelivery: this.registeredDelivery,
      state: 'queued',
      attempts: 0,
      connectionId: null,
      errorCode: null,
      error: null,
      partsTotal: 0,
      partsDelivered: 0,
      partsFailed: 0,
    };
  }
}
