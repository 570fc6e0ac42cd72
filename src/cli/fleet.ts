import type { MqttClient } from 'mqtt';
import { mqttLib } from '../broker/external.js';
import type { Logger } from '../logger.js';
import { deviceTopics } from '../topics.js';

export interface FleetDevice {
  id: string;
  /** MQTT password; without one the device connects anonymously */
  password?: string | undefined;
}

export interface FleetOptions {
  mqttUrl: string;
  devices: readonly FleetDevice[];
  /** telemetry period of each device */
  intervalMs: number;
  /** every Nth round a device overheats (an alert), and the round after it cools down (a clear) */
  alertEvery: number;
  logger: Logger;
}

interface DeviceState {
  device: FleetDevice;
  client: MqttClient;
  round: number;
  temp: number;
  battery: number;
  running: boolean;
  timer?: NodeJS.Timeout;
}

// `devices/<id>/alerts/<kind>`: topics.ts has no builder for alert topics (device-side; the rules name them)
const alertTopic = (id: string, kind: string) => `devices/${id}/alerts/${kind}`;

/**
 * A few demo devices: each publishes telemetry (`temp`, `battery`, `state`), now and then an overheat alert
 * and its clear, and answers the commands it receives on `devices/<id>/commands` with a result.
 */
export class DemoFleet {
  private readonly states: DeviceState[] = [];
  private readonly log: Logger;

  constructor(private readonly options: FleetOptions) {
    this.log = options.logger.child({ module: 'fleet' });
  }

  async start(): Promise<void> {
    const { devices, intervalMs } = this.options;
    try {
      for (const [i, device] of devices.entries()) {
        const client = await mqttLib().connectAsync(this.options.mqttUrl, {
          clientId: `sim-${device.id}`,
          ...(device.password === undefined ? {} : { username: device.id, password: device.password }),
          reconnectPeriod: 1000,
          connectTimeout: 5000,
        });
        const state: DeviceState = {
          device,
          client,
          round: 0,
          temp: 70 + i,
          battery: 100 - 7 * i,
          running: true,
        };
        this.states.push(state);
        client.on('error', (err) => this.log.warn({ device: device.id, err: err.message }, 'MQTT error'));
        client.on('message', (topic, payload) => this.onCommand(state, topic, payload));
        await client.subscribeAsync(deviceTopics.commands(device.id), { qos: 1 });
        // staggered so that the devices do not all speak at once
        const first = setTimeout(() => this.tick(state), Math.round((intervalMs * i) / devices.length));
        state.timer = first;
        this.log.info({ device: device.id }, 'device connected');
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const states = this.states.splice(0);
    for (const state of states) clearTimeout(state.timer);
    await Promise.all(states.map((s) => s.client.endAsync().catch(() => undefined)));
  }

  private tick(state: DeviceState): void {
    state.round++;
    const { id } = state.device;
    const alertRound = state.round % this.options.alertEvery === 0;
    const clearRound = state.round % this.options.alertEvery === 1 && state.round > 1;
    state.temp = alertRound ? 92 + Math.random() * 6 : 65 + Math.random() * 10;
    state.battery = Math.max(5, state.battery - 1);
    const round = (n: number) => Math.round(n * 10) / 10;
    const telemetry = {
      temp: round(state.temp),
      battery: state.battery,
      state: state.running ? 'running' : 'stopped',
    };
    this.publish(state, deviceTopics.telemetry(id), telemetry);
    if (alertRound && state.running) this.publish(state, alertTopic(id, 'overheat'), telemetry);
    if (clearRound) this.publish(state, alertTopic(id, 'overheat/clear'), telemetry);
    state.timer = setTimeout(() => this.tick(state), this.options.intervalMs);
  }

  private publish(state: DeviceState, topic: string, payload: unknown): void {
    state.client.publishAsync(topic, JSON.stringify(payload), { qos: 1 }).then(
      () => this.log.info({ device: state.device.id, topic, payload }, 'published'),
      (err: unknown) => this.log.warn({ device: state.device.id, topic, err }, 'publish failed'),
    );
  }

  private onCommand(state: DeviceState, topic: string, payload: Buffer): void {
    let command: { command?: unknown; args?: unknown; request_id?: unknown; payload?: unknown };
    try {
      command = JSON.parse(payload.toString('utf8'));
    } catch {
      this.log.warn({ device: state.device.id, topic }, 'command is not JSON');
      return;
    }
    const name = typeof command.command === 'string' ? command.command.toLowerCase() : 'unknown';
    if (name === 'stop') state.running = false;
    if (name === 'start') state.running = true;
    this.log.info({ device: state.device.id, command: name, args: command.args }, 'command received');
    const result = { request_id: command.request_id, ok: true, message: `${state.device.id}: ${name} done` };
    this.publish(state, deviceTopics.commandResult(state.device.id), result);
  }
}
