import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import { BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SmsRecord } from '../store/store.js';
import { adminRoutes } from './admin-routes.js';
import { bearerAuth } from './auth.js';
import { sendError } from './errors.js';
import { BridgeMetrics } from './metrics.js';
import type { HttpSources } from './sources.js';
import { StateCounts } from './state-counts.js';
import { StatusFeed, statusSnapshot } from './status-feed.js';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from './status-page.js';
import { StoreFileCheck } from './store-file.js';

export interface HttpServerOptions {
  host: string;
  /** `0` picks a free port */
  port: number;
  /** bearer token for `/api/*`; without one those answer 403 */
  token?: string | undefined;
  sources: HttpSources;
  logger: Logger;
}

/**
 * Health, readiness, Prometheus metrics, the admin API and the status page.
 * `/healthz`, `/readyz` and `/metrics` are open (probes and scrapers); `/api/*` needs the bearer token.
 */
export class HttpServer {
  readonly metrics: BridgeMetrics;
  private readonly feed: StatusFeed;
  private readonly log: Logger;
  private app: FastifyInstance | undefined;
  private readonly storeFile: StoreFileCheck;
  private readonly counts: StateCounts;
  /** the sources, with the store's counts throttled */
  private readonly sources: HttpSources;

  constructor(private readonly options: HttpServerOptions) {
    this.log = options.logger.child({ module: 'http' });
    // the metrics and the status page count the store's SMS through one throttle (`StateCounts`)
    const store = options.sources.store;
    this.counts = new StateCounts(() => store.countByState());
    this.sources = {
      ...options.sources,
      store: {
        getSms: (id) => store.getSms(id),
        listSms: (query) => store.listSms(query),
        countByState: () => this.counts.get(),
        healthy: () => store.healthy(),
      },
    };
    this.metrics = new BridgeMetrics(this.sources);
    this.feed = new StatusFeed(this.sources, this.log);
    this.storeFile = new StoreFileCheck(options.sources.storeFile);
  }

  /** The port listened on, once started. */
  get port(): number {
    const address = this.app?.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Called with every committed SMS state change: feeds the metrics and the status page. */
  smsChanged(sms: SmsRecord): void {
    this.counts.changed();
    this.metrics.smsChanged(sms);
    this.feed.changed();
  }

  async start(): Promise<void> {
    const { host, port, token } = this.options;
    this.storeFile.start();
    if (!token) this.log.warn('http.token is not set: the admin API and the status page data are disabled');
    // typed as fastify's base logger so routes can be written against the plain FastifyInstance
    const loggerInstance: FastifyBaseLogger = this.log;
    const app = Fastify({
      loggerInstance,
      // a line per scrape and per probe would drown the bridge's own log
      logController: new LogController({ disableRequestLogging: true }),
      forceCloseConnections: true,
    });
    this.routes(app);
    try {
      await app.listen({ host, port });
    } catch (err) {
      await app.close();
      throw new BridgeError(
        'ERR_LISTEN',
        `HTTP cannot listen on ${host}:${port}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    this.app = app;
    this.log.info({ host, port: this.port }, 'HTTP listening');
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    this.feed.stop();
    await app?.close();
  }

  private routes(app: FastifyInstance): void {
    const sources = this.sources;
    app.setErrorHandler((err: FastifyError, request, reply) => {
      if (err.validation) return sendError(reply, 400, 'ERR_HTTP_INVALID', err.message);
      if (err.statusCode && err.statusCode < 500) {
        return sendError(reply, err.statusCode, 'ERR_HTTP_INVALID', err.message);
      }
      request.log.error({ err, url: request.url }, 'HTTP request failed');
      return sendError(reply, 500, 'ERR_HTTP_INTERNAL', 'internal error; see the bridge log');
    });
    app.setNotFoundHandler((request, reply) =>
      sendError(reply, 404, 'ERR_HTTP_NOT_FOUND', `no route ${request.method} ${request.url}`),
    );

    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      const checks = await readiness(sources, this.storeFile);
      const ready = checks.broker && checks.store && (checks.smsc || checks.cluster === true);
      return reply.code(ready ? 200 : 503).send({ ready, checks, connections: connectionStates(sources) });
    });
    app.get('/metrics', async (_request, reply) => {
      const text = await this.metrics.text();
      return reply.type(this.metrics.contentType).send(text);
    });
    app.get('/', async (_request, reply) => reply.redirect('/status'));
    app.get('/status', async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', STATUS_PAGE_CSP)
        .header('cache-control', 'no-store')
        .send(STATUS_PAGE_HTML),
    );

    app.register((api, _options, done) => {
      api.addHook('preHandler', bearerAuth(this.options.token));
      api.addHook('onSend', async (_request, reply) => {
        reply.header('cache-control', 'no-store');
      });
      api.get('/api/status', async () => statusSnapshot(sources));
      api.get('/api/status/stream', async (_request, reply) => {
        reply.hijack();
        this.feed.attach(reply.raw);
      });
      adminRoutes(api, sources);
      done();
    });
  }
}

async function readiness(sources: HttpSources, storeFile: StoreFileCheck) {
  // the real file still there (not deleted or replaced), and a cheap query on it
  const store = storeFile.ok() && (await sources.store.healthy().catch(() => false));
  return {
    broker: sources.brokerListening(),
    store,
    smsc: sources.links.some((l) => l.bound),
    ...(sources.clusterMember ? { cluster: sources.clusterMember() } : {}),
  };
}

function connectionStates(sources: HttpSources) {
  return sources.links.map((l) => ({ id: l.id, bound: l.bound, last_error: l.lastError ?? null }));
}
