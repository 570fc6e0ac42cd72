/** Types shared by the SMPP session files; SmppClientOptions in ./session.ts documents the settings. */

export type BindRole = 'transceiver' | 'transmitter' | 'receiver';

/** Resolved settings of one bind; see SmppClientOptions for the meaning and defaults. */
export interface BindSettings {
  id: string;
  host: string;
  port: number;
  tls: { ca?: string | Buffer | Array<string | Buffer>; rejectUnauthorized?: boolean } | undefined;
  systemId: string;
  password: string;
  systemType: string;
  interfaceVersion: number;
  addrTon: number;
  addrNpi: number;
  addressRange: string;
  enquireLinkIntervalMs: number;
  responseTimeoutMs: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
}

export interface SubmitParams {
  destinationAddr: string;
  destAddrTon: number;
  destAddrNpi: number;
  sourceAddr: string;
  sourceAddrTon: number;
  sourceAddrNpi: number;
  /** SMPP 3.4 §5.2.19; always explicit (the library would guess) */
  dataCoding: number;
  esmClass: number;
  /** at most 254 octets (SMPP 3.4 §5.2.21) */
  shortMessage?: Buffer;
  /** SMPP 3.4 §5.3.2.32; short_message is then empty */
  messagePayload?: Buffer;
  registeredDelivery: number;
  priorityFlag: number;
  /** SMPP 3.4 §7.1: YYMMDDhhmmsstnnp, absolute or relative (`R`) */
  validityPeriod?: string;
}

export interface SubmitResult {
  /** 0 or the SMSC's error; the caller classifies it */
  commandStatus: number;
  /** empty unless commandStatus is 0 */
  messageId: string;
}

export type DeliverResponder = (status?: number) => void;
