/**
 * Wall-clock arithmetic in IANA zones with Intl.DateTimeFormat only. A "wall" value is the local date and
 * time read as if it were UTC, in epoch ms: days are then always 24 h long, so DST never shifts a schedule.
 */

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const WEEK = 7 * DAY;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The local time of instant `ms` in `zone`, as wall ms. */
export function wallMs(ms: number, zone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(ms))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall + (((ms % 1000) + 1000) % 1000);
}

/** The instant whose local time in `zone` is `wall`; a time skipped by a DST change moves forward. */
export function fromWall(wall: number, zone: string): number {
  const first = wall - (wallMs(wall, zone) - wall);
  const second = wall - (wallMs(first, zone) - first);
  if (wallMs(second, zone) === wall) return second;
  return Math.max(first, second);
}

/** `HH:MM` -> minutes after midnight. */
export function minutesOf(clock: string): number {
  const [h, m] = clock.split(':');
  return Number(h) * 60 + Number(m);
}

/** `YYYY-MM-DD` or `YYYY-MM-DD HH:MM` -> wall ms. */
export function parseLocal(text: string): number {
  const [date, time = '00:00'] = text.split(' ');
  const [y, mo, d] = (date ?? '').split('-').map(Number);
  return Date.UTC(y!, mo! - 1, d!) + minutesOf(time) * MINUTE;
}

/**
 * When the quiet period that `now` falls in ends, or undefined when `now` is outside it. `from` > `until`
 * spans midnight; `from` == `until` is never quiet.
 */
export function quietUntil(
  now: number,
  q: { from: string; until: string; time_zone: string },
): number | undefined {
  const from = minutesOf(q.from);
  const until = minutesOf(q.until);
  if (from === until) return undefined;
  const wall = wallMs(now, q.time_zone);
  const day = Math.floor(wall / DAY) * DAY;
  const m = (wall - day) / MINUTE;
  let end: number | undefined;
  if (from < until) {
    if (m >= from && m < until) end = day + until * MINUTE;
  } else if (m >= from) end = day + DAY + until * MINUTE;
  else if (m < until) end = day + until * MINUTE;
  return end === undefined ? undefined : fromWall(end, q.time_zone);
}

/** Which week of a rotation `now` falls in: 0 from `start` for seven local days, then 1, and round again. */
export function rotationIndex(
  now: number,
  r: { time_zone: string; start: string; weeks: readonly unknown[] },
): number {
  const weeks = Math.floor((wallMs(now, r.time_zone) - parseLocal(r.start)) / WEEK);
  const n = r.weeks.length;
  return ((weeks % n) + n) % n;
}
