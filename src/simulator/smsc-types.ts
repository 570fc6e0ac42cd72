import type smpp from 'smpp';
import type { Logger } from '../logger.js';
import type { IdBase } from './smsc-format.js';

export interface SmscSimulatorOptions {
  /** Accept any system_id when unset. */
  systemId?: string;
  /** Accept any password when unset. */
  password?: string;
  /** Send a delivery receipt for each submit_sm that asks for one (registered_delivery & 0x03). */
  receipts: boolean;
  /** Default 200. */
  receiptDelayMs?: number;
  /** Base of the message_id in submit_sm_resp. Default `hex`. */
  messageIdBase?: IdBase;
  /** Base of the id in receipts; the other base exercises id matching. Default: messageIdBase. */
  receiptIdBase?: IdBase;
  /** Parts per second; above it submit_sm gets ESME_RTHROTTLED (0x58). Default: unlimited. */
  tps?: number;
  /** command_status per destination (`+447700900009` or `447700900009`). */
  failDestinations?: Record<string, number>;
  /** Serve SMPP over TLS (`ssmpp://`) with this PEM key and certificate. Default: plain TCP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  logger: Logger;
}

export interface ReceivedSms {
  /** E.164 with `+` when TON is international */
  to: string;
  from: string;
  /** decoded, without the UDH */
  text: string;
  dataCoding: number;
  esmClass: number;
  udh?: Buffer;
  shortMessage: Buffer;
  messagePayload?: Buffer;
  messageId: string;
  registeredDelivery: number;
  priorityFlag: number;
  /** part number and total from the UDH or sar_* TLVs; 1/1 when single */
  part: { seq: number; total: number };
  connectionSystemId: string;
  /** which ESME session of this simulator carried it, counting from 1 */
  session: number;
  /** false when the simulator swallowed it (`swallowSubmits`): taken but never answered */
  answered: boolean;
  at: Date;
}

export interface BindRecord {
  command: 'bind_transceiver' | 'bind_transmitter' | 'bind_receiver';
  systemId: string;
  interfaceVersion: number;
  addrTon: number;
  addrNpi: number;
  addressRange: string;
  commandStatus: number;
  /** the ESME session, counting from 1 */
  session: number;
  at: Date;
}

export interface InjectMo {
  from: string;
  to: string;
  text?: string;
  dataCoding?: number;
  esmClass?: number;
  /** raw octets instead of `text` (UDH included when esmClass has 0x40) */
  shortMessage?: Buffer;
  tlvs?: smpp.Tlvs<Buffer>;
  /** on the session bound with this system_id (default: the first receiver bound) */
  systemId?: string;
}
