import type { Alert } from './types.js';

/** The texts the alert engine writes itself; short, GSM 03.38 only, so each fits one SMS. */

const MAX_LIST = 100;

export function alertLabel(
  device: { id: string; name?: string | undefined } | undefined,
  title: string,
): string {
  return device ? `${device.name ?? device.id} ${title}` : title;
}

/** `3 more alerts: #4 pump-4 overheat, #5 pump-5 overheat, #6 pump-6 overheat. Reply ACK <number>` */
export function digestText(alerts: readonly Pick<Alert, 'ref' | 'label'>[]): string {
  let list = '';
  let shown = 0;
  for (const a of alerts) {
    const item = `#${a.ref} ${a.label}`;
    if (shown > 0 && list.length + item.length + 2 > MAX_LIST) break;
    list += shown === 0 ? item : `, ${item}`;
    shown++;
  }
  const rest = alerts.length - shown;
  return `${alerts.length} more alerts: ${list}${rest > 0 ? ` and ${rest} more` : ''}. Reply ACK <number>`;
}

export function ackNotice(who: string, alert: Pick<Alert, 'ref' | 'label'>): string {
  return `${who} acked ${alert.label} (#${alert.ref})`;
}

export function resolvedText(alert: Pick<Alert, 'ref' | 'label'>): string {
  return `Resolved: ${alert.label} (#${alert.ref})`;
}

export const ackReplies = {
  acked: (a: Pick<Alert, 'ref' | 'label'>) => `Acked #${a.ref} ${a.label}. Escalation stopped.`,
  already: (a: Pick<Alert, 'ref' | 'label' | 'ackedBy'>) =>
    `#${a.ref} ${a.label} was already acked by ${a.ackedBy ?? 'someone'}.`,
  unknown: (ref: string) => `No open alert #${ref}.`,
  notAllowed: (a: Pick<Alert, 'ref'>) => `Alert #${a.ref} was not sent to you.`,
};
