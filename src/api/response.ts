/**
 * Responses of the MQTT request API, shaped as zigbee2mqtt's `bridge/response/...`:
 * `{"status":"ok","data":{...}}` or `{"status":"error","data":{},"error":"..."}`, with the request's
 * `transaction` echoed when it had one.
 */
export type ApiResponse =
  | { status: 'ok'; data: Record<string, unknown>; transaction?: string | number }
  | { status: 'error'; data: Record<string, never>; error: string; transaction?: string | number };

export function okResponse(
  data: Record<string, unknown>,
  transaction: string | number | undefined,
): ApiResponse {
  return transaction === undefined ? { status: 'ok', data } : { status: 'ok', data, transaction };
}

export function errorResponse(error: string, transaction: string | number | undefined): ApiResponse {
  return transaction === undefined
    ? { status: 'error', data: {}, error }
    : { status: 'error', data: {}, error, transaction };
}

/** The request's `transaction` when it is a string or number, also when the rest of the request is invalid. */
export function transactionOf(body: unknown): string | number | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const value = (body as Record<string, unknown>).transaction;
  return typeof value === 'string' || typeof value === 'number' ? value : undefined;
}
