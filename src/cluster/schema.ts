import { hostname } from 'node:os';
import { z } from 'zod';
import { durationSchema } from '../config/duration.js';

/** `<hostname>-<pid>`: unique among running processes, new after a restart. */
export function defaultInstanceId(): string {
  return `${hostname()}-${process.pid}`;
}

export const clusterSchema = z
  .object({
    /**
     * Run as one of several bridges sharing one store: each SMPP connection is bound by the instance holding
     * its lease, and each queued SMS is claimed by one instance. Default `false` (one instance, no leases).
     */
    enabled: z.boolean().default(false),
    /**
     * This instance's name in leases, claims and its state topic `<base>/state/<instance_id>`; must differ between
     * running instances. Default `<hostname>-<pid>`.
     */
    instance_id: z
      .string()
      .regex(/^[\x21-\x7e]{1,128}$/, 'expected 1-128 printable ASCII characters')
      .regex(/^[^/+#]*$/, 'no "/", "+" or "#": it names the MQTT topic <base>/state/<instance_id>')
      .optional(),
    /**
     * How long a connection lease and an SMS claim last without renewal (renewed every third of it): a dead
     * instance's connections and SMS are taken over after about this long. Default `10s`.
     */
    lease_ttl: durationSchema.prefault('10s'),
    /**
     * How often to look for SMS committed by other instances and for connections whose owner is gone.
     * Default `500ms`.
     */
    poll: durationSchema.prefault('500ms'),
    /**
     * How often this instance reads back the alerts other instances committed, so their escalations, digests
     * and receipt timeouts go on here if their instance dies. Default `5s`.
     */
    alert_refresh: durationSchema.prefault('5s'),
    /**
     * A device command left unpublished this long by the instance that committed it (it died, or its broker
     * connection is down) is published by the instance holding the `commands` lease. Default `15s`.
     */
    command_adopt_after: durationSchema.prefault('15s'),
    /**
     * A connection this instance holds but has not bound for this long (the SMSC refuses this host, or cannot be
     * reached from it) is handed over: its lease is given back and not taken again for as long, so that another
     * instance tries, and the SMS claimed for it go to whoever binds it. Default `30s`.
     */
    unbound_handover: durationSchema.prefault('30s'),
    /** Queued SMS this instance claims and holds in memory at most, waiting for its connections. Default `500`. */
    max_claimed: z.number().int().min(1).max(100_000).default(500),
  })
  .strict()
  .refine((c) => c.poll < c.lease_ttl, { message: 'poll must be shorter than lease_ttl', path: ['poll'] })
  .refine((c) => c.lease_ttl >= 1000, { message: 'lease_ttl must be at least 1s', path: ['lease_ttl'] });

export type ClusterConfig = z.infer<typeof clusterSchema>;
