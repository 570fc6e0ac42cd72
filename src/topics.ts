/** Every MQTT topic the bridge builds comes from here. */
export interface Topics {
  state: string;
  smsOutbound(smsId: string | number): string;
  smsInbound: string;
  alert(alertId: string | number): string;
  requestSmsSend: string;
  /** demo only, with the built-in simulator: `{"from","text"}` here arrives as an SMS from that phone */
  simulatorMo: string;
  responseSmsSend: string;
}

/**
 * `instanceId`: in a cluster each instance has its own state topic, `<base>/state/<instance>`, so that the will of
 * one that dies does not say `offline` for the others.
 */
export function createTopics(base = 'sms-bridge', instanceId?: string): Topics {
  return {
    state: instanceId === undefined ? `${base}/state` : `${base}/state/${instanceId}`,
    smsOutbound: (smsId) => `${base}/sms/outbound/${smsId}`,
    smsInbound: `${base}/sms/inbound`,
    alert: (alertId) => `${base}/alerts/${alertId}`,
    requestSmsSend: `${base}/request/sms/send`,
    simulatorMo: `${base}/simulator/mo`,
    responseSmsSend: `${base}/response/sms/send`,
  };
}

export const deviceTopics = {
  commands: (deviceId: string) => `devices/${deviceId}/commands`,
  commandResult: (deviceId: string) => `devices/${deviceId}/commands/result`,
  telemetry: (deviceId: string) => `devices/${deviceId}/telemetry`,
  /** The device id of a `devices/<id>/...` topic, or undefined. */
  deviceIdOf(topic: string): string | undefined {
    if (!topic.startsWith('devices/')) return undefined;
    const end = topic.indexOf('/', 8);
    const id = end === -1 ? topic.slice(8) : topic.slice(8, end);
    return id.length > 0 ? id : undefined;
  },
};
