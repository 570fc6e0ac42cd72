import type { FastifyInstance } from 'fastify';
import { normalizePhone } from '../rules/recipients.js';
import { smsJson } from '../sms-json.js';
import { PRIORITIES, type Priority, type SmsState } from '../store/store.js';
import { sendError } from './errors.js';
import type { HttpSources } from './sources.js';

const STATES: SmsState[] = ['queued', 'submitted', 'delivered', 'failed', 'expired'];

const idParams = {
  type: 'object',
  properties: { id: { type: 'integer', minimum: 1 } },
  required: ['id'],
} as const;

/** The admin API: list and search SMS, retry a failed one, send a test SMS. Auth is the caller's hook. */
export function adminRoutes(app: FastifyInstance, sources: HttpSources): void {
  const { store } = sources;

  app.get<{ Querystring: { state?: SmsState; to?: string; limit: number } }>(
    '/api/sms',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            state: { type: 'string', enum: STATES },
            to: { type: 'string', minLength: 1 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const { state, limit } = request.query;
      let to: string | undefined;
      if (request.query.to !== undefined) {
        // an unencoded `+` in a query string arrives as a space
        const phone = normalizePhone(request.query.to.trim().replace(/^(?=\d)/, '+'));
        if (!phone.phone) return sendError(reply, 400, 'ERR_HTTP_INVALID', `to: ${phone.error}`);
        to = phone.phone;
      }
      const rows = await store.listSms({ state, to, limit });
      return { sms: rows.map(smsJson) };
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/sms/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const sms = await store.getSms(request.params.id);
      if (!sms) return sendError(reply, 404, 'ERR_HTTP_NOT_FOUND', `no SMS with id ${request.params.id}`);
      return smsJson(sms);
    },
  );

  app.post<{ Params: { id: number } }>(
    '/api/sms/:id/retry',
    { schema: { params: idParams } },
    async (request, reply) => {
      const { id } = request.params;
      const sms = await store.getSms(id);
      if (!sms) return sendError(reply, 404, 'ERR_HTTP_NOT_FOUND', `no SMS with id ${id}`);
      const requeued = await sources.requeue(id, Date.now() + sources.maxAgeMs(sms.priority));
      if (!requeued) {
        return sendError(
          reply,
          409,
          'ERR_HTTP_CONFLICT',
          `SMS ${id} is ${sms.state}; only a failed or expired SMS can be retried`,
        );
      }
      request.log.info({ sms_id: id, previous_error: sms.error }, 'SMS requeued by the admin API');
      return reply.code(202).send(smsJson(requeued));
    },
  );

  app.post<{ Body: { to: string; text: string; priority: Priority } }>(
    '/api/sms',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            to: { type: 'string', minLength: 1, maxLength: 32 },
            text: { type: 'string', minLength: 1, maxLength: 2000 },
            priority: { type: 'string', enum: [...PRIORITIES], default: 'normal' },
          },
          required: ['to', 'text'],
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const { text, priority } = request.body;
      const phone = normalizePhone(request.body.to);
      if (!phone.phone) return sendError(reply, 400, 'ERR_HTTP_INVALID', `to: ${phone.error}`);
      const [sms] = await sources.queue([
        {
          to: phone.phone,
          text,
          priority,
          source: 'test',
          expiresAt: Date.now() + sources.maxAgeMs(priority),
        },
      ]);
      if (!sms) return sendError(reply, 500, 'ERR_HTTP_INTERNAL', 'the store returned no SMS');
      request.log.info({ sms_id: sms.id, to: sms.to }, 'test SMS queued by the admin API');
      return reply.code(201).send(smsJson(sms));
    },
  );
}
