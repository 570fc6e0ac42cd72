import { readFileSync } from 'node:fs';
import type { BridgeConfig } from '../config/bridge-schema.js';
import { BridgeError } from '../errors.js';
import type { SmppClientOptions } from './session.js';

type ConnectionConfig = BridgeConfig['smpp']['connections'][number];

/** A file a setting names, or one clear error naming the setting. */
function readSetting(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new BridgeError(
      'ERR_CONFIG_READ',
      `cannot read ${setting}: ${path} (${(err as NodeJS.ErrnoException).code})`,
    );
  }
}

/** An SMSC connection of `smpp.connections` as the session takes it (its TLS CA read from its file). */
export function smppClientOptions(c: ConnectionConfig): SmppClientOptions {
  return {
    id: c.id,
    url: c.url,
    systemId: c.system_id,
    password: c.password ?? '',
    systemType: c.system_type,
    interfaceVersion: c.interface_version,
    bindMode: c.bind_mode,
    addrTon: c.addr_ton,
    addrNpi: c.addr_npi,
    addressRange: c.address_range,
    enquireLinkIntervalMs: c.enquire_link_interval,
    responseTimeoutMs: c.response_timeout,
    reconnectInitialMs: c.reconnect.initial,
    reconnectMaxMs: c.reconnect.max,
    tls: c.tls && {
      ca: c.tls.ca === undefined ? undefined : readSetting(c.tls.ca, `smpp.connections[${c.id}].tls.ca`),
      rejectUnauthorized: c.tls.reject_unauthorized,
    },
  };
}
