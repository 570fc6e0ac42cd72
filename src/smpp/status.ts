/**
 * SMPP command_status codes (SMPP 3.4 §5.1.3, plus the SMPP 5.0 §4.7.6 codes SMSCs send to 3.4 clients)
 * and what the sender should do with each.
 *
 * - throttled: back off, then resubmit the same PDU (DESIGN: 0x58, 0x14).
 * - transient: the SMSC failed, not the message; retry (the sender bounds the attempts).
 * - permanent: this message (or our configuration) is wrong; resubmitting gives the same answer.
 */
export type StatusClass = 'ok' | 'throttled' | 'transient' | 'permanent';

const TABLE: ReadonlyArray<readonly [code: number, name: string, kind: StatusClass]> = [
  [0x00, 'ESME_ROK', 'ok'],
  [0x01, 'ESME_RINVMSGLEN', 'permanent'],
  [0x02, 'ESME_RINVCMDLEN', 'permanent'],
  [0x03, 'ESME_RINVCMDID', 'permanent'],
  // Sent while the bind is not (yet) in a state to submit: the session layer rebinds, the SMS is retried.
  [0x04, 'ESME_RINVBNDSTS', 'transient'],
  [0x05, 'ESME_RALYBND', 'permanent'],
  [0x06, 'ESME_RINVPRTFLG', 'permanent'],
  [0x07, 'ESME_RINVREGDLVFLG', 'permanent'],
  // "System Error": an SMSC-side fault; SMSCs use it for overload and database hiccups alike.
  [0x08, 'ESME_RSYSERR', 'transient'],
  [0x0a, 'ESME_RINVSRCADR', 'permanent'],
  [0x0b, 'ESME_RINVDSTADR', 'permanent'],
  [0x0c, 'ESME_RINVMSGID', 'permanent'],
  // Bind errors are configuration errors: a resubmit cannot fix them (the session layer reports them).
  [0x0d, 'ESME_RBINDFAIL', 'permanent'],
  [0x0e, 'ESME_RINVPASWD', 'permanent'],
  [0x0f, 'ESME_RINVSYSID', 'permanent'],
  [0x11, 'ESME_RCANCELFAIL', 'permanent'],
  [0x13, 'ESME_RREPLACEFAIL', 'permanent'],
  // "Message Queue Full": the SMSC's queue, for this ESME or this destination; wait, then resubmit.
  [0x14, 'ESME_RMSGQFUL', 'throttled'],
  [0x15, 'ESME_RINVSERTYP', 'permanent'],
  [0x33, 'ESME_RINVNUMDESTS', 'permanent'],
  [0x34, 'ESME_RINVDLNAME', 'permanent'],
  [0x40, 'ESME_RINVDESTFLAG', 'permanent'],
  [0x42, 'ESME_RINVSUBREP', 'permanent'],
  [0x43, 'ESME_RINVESMCLASS', 'permanent'],
  [0x44, 'ESME_RCNTSUBDL', 'permanent'],
  // "submit_sm or submit_multi failed": no reason given; common SMSC practice is a transient fault.
  [0x45, 'ESME_RSUBMITFAIL', 'transient'],
  [0x48, 'ESME_RINVSRCTON', 'permanent'],
  [0x49, 'ESME_RINVSRCNPI', 'permanent'],
  [0x50, 'ESME_RINVDSTTON', 'permanent'],
  [0x51, 'ESME_RINVDSTNPI', 'permanent'],
  [0x53, 'ESME_RINVSYSTYP', 'permanent'],
  [0x54, 'ESME_RINVREPFLAG', 'permanent'],
  [0x55, 'ESME_RINVNUMMSGS', 'permanent'],
  [0x58, 'ESME_RTHROTTLED', 'throttled'],
  [0x61, 'ESME_RINVSCHED', 'permanent'],
  [0x62, 'ESME_RINVEXPIRY', 'permanent'],
  [0x63, 'ESME_RINVDFTMSGID', 'permanent'],
  // Receiver temporary / permanent / reject application errors (§5.1.3: T = temporary).
  [0x64, 'ESME_RX_T_APPN', 'transient'],
  [0x65, 'ESME_RX_P_APPN', 'permanent'],
  [0x66, 'ESME_RX_R_APPN', 'permanent'],
  [0x67, 'ESME_RQUERYFAIL', 'permanent'],
  [0xc0, 'ESME_RINVOPTPARSTREAM', 'permanent'],
  [0xc1, 'ESME_ROPTPARNOTALLWD', 'permanent'],
  [0xc2, 'ESME_RINVPARLEN', 'permanent'],
  [0xc3, 'ESME_RMISSINGOPTPARAM', 'permanent'],
  [0xc4, 'ESME_RINVOPTPARAMVAL', 'permanent'],
  // data_sm_resp "Delivery Failure": delivery_failure_reason may say temporary (3); retries are bounded.
  [0xfe, 'ESME_RDELIVERYFAILURE', 'transient'],
  // "Unknown Error": nothing says the message is at fault.
  [0xff, 'ESME_RUNKNOWNERR', 'transient'],
  // SMPP 5.0 §4.7.6
  [0x100, 'ESME_RSERTYPUNAUTH', 'permanent'],
  [0x101, 'ESME_RPROHIBITED', 'permanent'],
  [0x102, 'ESME_RSERTYPUNAVAIL', 'transient'],
  [0x103, 'ESME_RSERTYPDENIED', 'permanent'],
  [0x104, 'ESME_RINVDCS', 'permanent'],
  [0x105, 'ESME_RINVSRCADDRSUBUNIT', 'permanent'],
  [0x106, 'ESME_RINVDSTADDRSUBUNIT', 'permanent'],
];

const STATUSES = new Map(TABLE.map(([code, name, kind]) => [code, { name, kind }]));

function hex(code: number): string {
  return `0x${(code >>> 0)
    .toString(16)
    .toUpperCase()
    .padStart(code > 0xff ? 8 : 2, '0')}`;
}

/** The spec name of a command_status, e.g. `ESME_RTHROTTLED`; `VENDOR_0x00000400` or `UNKNOWN_0x09` otherwise. */
export function statusName(code: number): string {
  const entry = STATUSES.get(code);
  if (entry) return entry.name;
  // SMPP 3.4 §5.1.3: 0x400-0x4FF are reserved for SMSC vendor specific errors.
  return code >= 0x400 && code <= 0x4ff ? `VENDOR_${hex(code)}` : `UNKNOWN_${hex(code)}`;
}

/**
 * How the sender treats a command_status. Codes not in the table (reserved or vendor specific) are
 * transient: their meaning is unknown, the sender's retry limit turns a real permanent error into a failure
 * with this code as the reason, and nothing is lost by trying again.
 */
export function classifyStatus(code: number): StatusClass {
  return STATUSES.get(code)?.kind ?? 'transient';
}
