import type { BusMessage } from '../broker/bus.js';
import type { Logger } from '../logger.js';
import type { SmscSimulator } from './smsc.js';

/**
 * The demo's field worker: `{"from":"+447700900001","text":"PUMP-7 STOP"}` published on `<base>/simulator/mo`
 * arrives at the bridge as an SMS "typed" on that phone, through the built-in simulator.
 */
export function demoMoHandler(
  sim: SmscSimulator,
  topic: string,
  logger: Logger,
): (message: BusMessage) => void {
  const log = logger.child({ module: 'simulator' });
  return (message) => {
    let mo: { from?: unknown; text?: unknown; to?: unknown };
    try {
      mo = JSON.parse(message.payload.toString('utf8'));
    } catch {
      mo = {};
    }
    if (typeof mo?.from !== 'string' || typeof mo.text !== 'string') {
      log.warn(`${topic} expects {"from":"+447700900001","text":"PUMP-7 STOP"}`);
      return;
    }
    const to = typeof mo.to === 'string' ? mo.to : 'BRIDGE';
    sim.injectMo({ from: mo.from, to, text: mo.text }).catch((err: unknown) => {
      log.warn({ err }, 'simulated SMS not delivered (is the bridge bound to its simulator?)');
    });
  };
}
