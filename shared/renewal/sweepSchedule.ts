/**
 * The sweep's period, read off its NCRONTAB schedule (six fields: second minute hour day month
 * day-of-week). The planner needs it: a subscription is renewed several sweep periods before it
 * expires, so missed or failed runs still leave more chances (planRenewals.ts).
 *
 * Only the time-of-day fields are evaluated; a schedule restricted to some days is rejected,
 * since such a sweep cannot keep any Graph subscription alive (the longest lifetime is 30 days,
 * the shortest 60 minutes).
 */

const secondsPerDay = 86_400;

export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

/** The longest gap between two consecutive firings within a day, in milliseconds. */
export function sweepPeriodMs(schedule: string): number {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new ScheduleError('must have six fields: second minute hour day month day-of-week');
  }
  const [second, minute, hour, day, month, dayOfWeek] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  for (const [name, field] of [
    ['day', day],
    ['month', month],
    ['day-of-week', dayOfWeek],
  ] as const) {
    if (field !== '*' && field !== '?') {
      throw new ScheduleError(`must run every day (${name} must be *)`);
    }
  }
  const seconds = parseField(second, 0, 59, 'second');
  const minutes = parseField(minute, 0, 59, 'minute');
  const hours = parseField(hour, 0, 23, 'hour');

  const firings: number[] = [];
  for (const h of hours) {
    for (const m of minutes) {
      for (const s of seconds) firings.push(h * 3600 + m * 60 + s);
    }
  }
  firings.sort((a, b) => a - b);
  const first = firings[0];
  if (first === undefined) throw new ScheduleError('never fires');
  let longest = first + secondsPerDay - (firings[firings.length - 1] ?? first);
  for (let i = 1; i < firings.length; i++) {
    longest = Math.max(longest, (firings[i] ?? 0) - (firings[i - 1] ?? 0));
  }
  return longest * 1000;
}

function parseField(field: string, min: number, max: number, name: string): number[] {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const match = /^(\*|\d+(?:-\d+)?)(?:\/(\d+))?$/.exec(part);
    if (match === null) throw new ScheduleError(`${name} field "${field}" is not understood`);
    const [, range = '*', stepText] = match;
    const step = stepText === undefined ? 1 : Number(stepText);
    let from = min;
    let to = max;
    if (range !== '*') {
      const [a, b] = range.split('-').map(Number);
      from = a ?? min;
      to = b ?? (stepText === undefined ? from : max);
    }
    if (step < 1 || from < min || to > max || from > to) {
      throw new ScheduleError(`${name} field "${field}" is out of range ${min}-${max}`);
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values];
}
