// Times on `glidein audit`'s command line (issue 25): ISO 8601 (`2026-12-07T14:02:00Z`, or a
// local `2026-12-07 14:02`), a time of day today in local time (`14:02`, `14:02:30`), or unix
// seconds (`@1796653965`). A site admin answering an incident report types the time as given.
import { UsageError } from '../../shared/errors.ts';

/** Unix ms of `value`, or a usage error naming the flag. */
export function parseAuditTime(flag: string, value: string, now: Date = new Date()): number {
  const epoch = /^@(\d{1,12})$/.exec(value);
  if (epoch) return Number(epoch[1]) * 1000;
  const tod = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (tod && Number(tod[1]) < 24 && Number(tod[2]) < 60 && Number(tod[3] ?? 0) < 60) {
    const d = new Date(now);
    d.setHours(Number(tod[1]), Number(tod[2]), Number(tod[3] ?? 0), 0);
    return d.getTime();
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    const t = Date.parse(value.replace(' ', 'T'));
    if (Number.isFinite(t)) return t;
  }
  throw new UsageError(`audit: --${flag} '${value}' is not a time; expected ISO 8601 (2026-12-07T14:02:00Z), a time of day today (14:02) or @UNIX-SECONDS`);
}
