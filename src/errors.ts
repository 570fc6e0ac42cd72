/**
 * Error registry (fastify's `lib/errors.js` habit): every error the bridge raises carries a stable code.
 * Tests assert the code, never the wording.
 */
export const ErrorCodes = {
  ERR_CONFIG_READ: 'a configuration file could not be read',
  ERR_CONFIG_INVALID: 'a configuration file is invalid',
  ERR_RULE_INVALID: 'a rule file is invalid',
  ERR_DEVICE_INVALID: 'a device file is invalid',
  ERR_LISTEN: 'a listener could not be opened',
  ERR_BROKER_CLOSED: 'the MQTT broker is stopped',
  ERR_BROKER_CONNECT: 'the external MQTT broker could not be reached or refused the bridge',
  ERR_STORE: 'the store failed',
  ERR_STORE_CONFLICT: 'a write was based on state that was never committed',
  ERR_SMPP_NOT_BOUND: 'no SMSC session is bound',
  ERR_SMPP_TIMEOUT: 'the SMSC did not answer in time',
  ERR_SMPP_CLOSED: 'the SMPP session closed',
  ERR_SMS_TOO_LONG: 'the text does not fit the allowed number of parts',
  ERR_SMS_REJECTED: 'the SMSC rejected the SMS',
  ERR_INBOUND_INVALID: 'an inbound SMS could not be understood',
  ERR_SHUTTING_DOWN: 'the bridge is shutting down and takes no new work',
  ERR_SHUTDOWN_TIMEOUT: 'the bridge did not stop within shutdown_timeout',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class BridgeError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BridgeError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isBridgeError(err: unknown, code?: ErrorCode): err is BridgeError {
  return err instanceof BridgeError && (code === undefined || err.code === code);
}

/** One problem in a file an integrator edits, located for an editor: `file:line:col message`. */
export interface FileIssue {
  file: string;
  line: number;
  col: number;
  /** dotted path inside the document, e.g. `rules.0.topic` */
  path: string;
  message: string;
}

export function formatIssue(issue: FileIssue): string {
  return `${issue.file}:${issue.line}:${issue.col} ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}

/** Raised with every issue found at once, never only the first. */
export class FileIssuesError extends BridgeError {
  readonly issues: FileIssue[];
  constructor(code: ErrorCode, issues: FileIssue[]) {
    super(code, `${issues.length} problem(s):\n${issues.map(formatIssue).join('\n')}`, {
      details: { issues },
    });
    this.issues = issues;
  }
}
