import { describe, expect, it } from 'vitest';
import { parseBridgeConfig } from '../../../src/config/load-bridge.js';
import { type FileIssue, FileIssuesError } from '../../../src/errors.js';

const SMPP = [
  'smpp:',
  '  connections:',
  '    - { id: main, url: "smpp://127.0.0.1:2775", system_id: bridge }',
  '',
].join('\n');

function issuesOf(mqtt: string): FileIssue[] {
  try {
    parseBridgeConfig(`mqtt: ${mqtt}\n${SMPP}`, { env: {} });
  } catch (err) {
    if (err instanceof FileIssuesError) {
      expect(err.code).toBe('ERR_CONFIG_INVALID');
      return err.issues;
    }
    throw err;
  }
  return [];
}

describe('mqtt.mode: external', () => {
  it('takes the url, credentials and defaults', () => {
    const config = parseBridgeConfig(
      `mqtt: { mode: external, url: "mqtts://broker:8883", username: bridge, password: pw, ca: ca.pem }\n${SMPP}`,
      {
        env: {},
      },
    );
    expect(config.mqtt).toMatchObject({
      mode: 'external',
      url: 'mqtts://broker:8883',
      share_group: 'sms-bridge',
      protocol_version: 5,
      session_expiry: 86_400_000,
      ca: 'ca.pem',
    });
  });

  it.each([
    ['{ mode: external }', 'url', /needs mqtt.url/],
    ['{ url: "mqtt://broker" }', 'url', /mqtt.mode: external/],
    ['{ mode: external, url: "http://broker" }', 'url', /mqtt:\/\//],
    ['{ mode: external, url: "mqtt://broker", ca: ca.pem }', 'ca', /TLS url/],
    ['{ mode: external, url: "mqtts://broker", cert: c.pem }', 'key', /go together/],
    ['{ mode: external, url: "mqtt://broker", tls: { cert: c, key: k } }', 'tls', /embedded broker/],
    ['{ mode: external, url: "mqtt://broker", share_group: "a/b" }', 'share_group', /without/],
    ['{ mode: external, url: "mqtt://broker", protocol_version: 3 }', 'protocol_version', /./],
    ['{ reject_unauthorized: false }', 'reject_unauthorized', /mqtt.mode: external/],
  ])('refuses %s at mqtt.%s', (mqtt, key, message) => {
    const issues = issuesOf(mqtt);
    expect(issues.length).toBeGreaterThan(0);
    const issue = issues.find((i) => i.path === `mqtt.${key}`);
    expect(issue, JSON.stringify(issues)).toBeDefined();
    expect(issue?.message).toMatch(message);
  });
});
