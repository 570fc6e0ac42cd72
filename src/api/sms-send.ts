import { z } from 'zod';
import type { BusMessage, PublishOptions } from '../broker/bus.js';
import { explainIssue } from '../config/zod-issues.js';
import { isBridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RuleSet } from '../rules/engine.js';
import { normalizePhone } from '../rules/recipients.js';
import { splitSms } from '../smpp/segment.js';
import { type NewSms, PRIORITIES, type Priority, type SmsRecord } from '../store/store.js';
import type { Topics } from '../topics.js';
import { type ApiResponse, errorResponse, okResponse, transactionOf } from './response.js';

/** Most recipients one request may name, so that one message cannot queue thousands of SMS. */
export const MAX_RECIPIENTS = 50;

/** The payload of `<base>/request/sms/send`. */
export const smsSendRequestSchema = z
  .object({
    /** Phone numbers in international form, or contact and group ids of the rule files. Required. */
    to: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(MAX_RECIPIENTS)]),
    /** The SMS text. Required. */
    text: z.string().min(1),
    /** critical | high | normal | low. Default `normal`. */
    priority: z.enum(PRIORITIES).default('normal'),
    /** Most parts the text may take; a longer text is refused. Default: smpp.max_parts. */
    max_parts: z.number().int().min(1).max(255).optional(),
    /** Echoed in the response so that the caller can match it. Default: none. */
    transaction: z.union([z.string(), z.number()]).optional(),
  })
  .strict();

export type SmsSendRequest = z.output<typeof smsSendRequestSchema>;

export interface SmsSendApiOptions {
  topics: Pick<Topics, 'requestSmsSend' | 'responseSmsSend'>;
  /** publishes a response */
  publish: (topic: string, payload: string, options?: PublishOptions) => Promise<void>;
  /** why the bridge must not answer on a request's MQTT 5 response topic; undefined when it may. Default: never answer there. */
  responseTopicProblem?: (topic: string) => string | undefined;
  /** the rule set in force, for contact and group ids */
  rules: () => RuleSet;
  /** commits the SMS to the outbox and hands them to the sender: the path intake's SMS take */
  queue: (items: NewSms[]) => Promise<SmsRecord[]>;
  maxParts: number;
  maxAgeMs: (priority: Priority) => number;
  logger: Logger;
}

/**
 * `<base>/request/sms/send` -> `<base>/response/sms/send`, answered as zigbee2mqtt's `bridge/request` API is:
 * `{"status":"ok"|"error","data","error","transaction"}`. It runs in the broker's intake hook, so a QoS 1
 * request is acknowledged only once its SMS are committed (guarantee 1); a bad request is answered with an
 * error and acknowledged, a store failure is answered and left unacknowledged so that the client sends it again.
 */
export class SmsSendApi {
  private readonly log: Logger;

  constructor(private readonly options: SmsSendApiOptions) {
    this.log = options.logger.child({ module: 'api' });
  }

  handles(topic: string): boolean {
    return topic === this.options.topics.requestSmsSend;
  }

  readonly handle = async (message: BusMessage, clientId: string | null): Promise<void> => {
    let body: unknown;
    try {
      body = JSON.parse(message.payload.toString('utf8'));
    } catch {
      await this.respond(message, errorResponse('the request is not JSON', undefined));
      return;
    }
    const transaction = transactionOf(body);
    const parsed = smsSendRequestSchema.safeParse(body, { error: explainIssue });
    if (!parsed.success) {
      const problems = parsed.error.issues.map(
        (i) => (i.path.length ? `${i.path.join('.')}: ` : '') + i.message,
      );
      await this.respond(message, errorResponse(problems.join('; '), transaction));
      return;
    }
    const request = parsed.data;
    const prepared = this.prepare(request);
    if ('error' in prepared) {
      await this.respond(message, errorResponse(prepared.error, transaction));
      return;
    }
    const now = Date.now();
    const items: NewSms[] = prepared.phones.map((to) => ({
      to,
      text: request.text,
      priority: request.priority,
      source: 'api',
      expiresAt: now + this.options.maxAgeMs(request.priority),
      maxParts: request.max_parts,
    }));
    let records: SmsRecord[];
    try {
      records = await this.options.queue(items);
    } catch (err) {
      this.log.error({ err, client: clientId }, 'SMS request not committed; not acknowledged');
      await this.respond(message, errorResponse('the SMS could not be stored; try again', transaction));
      throw err;
    }
    this.log.info({ client: clientId, sms_ids: records.map((r) => r.id) }, 'SMS queued by request');
    await this.respond(
      message,
      okResponse(
        {
          ids: records.map((r) => r.id),
          to: records.map((r) => r.to),
          parts: prepared.parts,
          encoding: prepared.encoding,
        },
        transaction,
      ),
    );
  };

  /** Recipients as E.164 numbers and the size of the text, or why the request cannot be sent. */
  private prepare(
    request: SmsSendRequest,
  ): { phones: string[]; parts: number; encoding: 'GSM 03.38' | 'UCS2' } | { error: string } {
    const rules = this.options.rules();
    const phones = new Set<string>();
    for (const entry of typeof request.to === 'string' ? [request.to] : request.to) {
      if (/^[+\d]/.test(entry)) {
        const phone = normalizePhone(entry);
        if (phone.error !== undefined) return { error: `to: ${phone.error}` };
        phones.add(phone.phone);
      } else if (rules.has(entry)) {
        for (const r of rules.resolveRecipients([entry])) phones.add(r.phone);
      } else {
        return { error: `to: unknown contact or group '${entry}'` };
      }
    }
    if (phones.size === 0) return { error: 'to: no recipients' };
    if (phones.size > MAX_RECIPIENTS) return { error: `to: more than ${MAX_RECIPIENTS} recipients` };
    try {
      const split = splitSms(request.text, {
        maxParts: request.max_parts ?? this.options.maxParts,
        reference: 0,
        onOverflow: 'reject',
      });
      return {
        phones: [...phones],
        parts: split.parts.length,
        encoding: split.dataCoding === 0 ? 'GSM 03.38' : 'UCS2',
      };
    } catch (err) {
      if (isBridgeError(err, 'ERR_SMS_TOO_LONG')) return { error: `text: ${err.message}` };
      throw err;
    }
  }

  /** On the request's MQTT 5 response topic with its correlation data, else on `<base>/response/sms/send`. */
  private async respond(request: BusMessage, response: ApiResponse): Promise<void> {
    let topic = this.options.topics.responseSmsSend;
    let correlationData: Buffer | undefined;
    if (request.responseTopic !== undefined) {
      const check = this.options.responseTopicProblem;
      const problem = check ? check(request.responseTopic) : 'not enabled';
      if (problem === undefined) {
        topic = request.responseTopic;
        correlationData = request.correlationData;
      } else {
        this.log.warn(
          { response_topic: request.responseTopic, problem },
          'response topic refused; answering on the default topic',
        );
      }
    }
    await this.options
      .publish(topic, JSON.stringify(response), { qos: 1, correlationData })
      .catch((err: unknown) => this.log.warn({ err }, 'response not published'));
  }
}

/**
 * Why the bridge must not publish a response on `topic`, a requester's MQTT 5 Response Topic: it publishes
 * with its own rights, so a response must not land where it would be taken for a command, a request, an SMS
 * from the simulator or a bridge status.
 */
export function responseTopicProblem(topic: string, base: string): string | undefined {
  if (topic.length === 0 || /[+#]/.test(topic) || topic.includes('\u0000')) return 'not a topic name';
  if (topic.startsWith('$')) return '$ topics are the broker’s';
  if (topic === 'devices' || topic.startsWith('devices/')) return 'device topics are refused';
  if ((topic === base || topic.startsWith(`${base}/`)) && !topic.startsWith(`${base}/response/`))
    return `only ${base}/response/... of the bridge's topics`;
  return undefined;
}
