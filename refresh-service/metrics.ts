// Prometheus text exposition (format 0.0.4) of the service's counters: requests by route and
// outcome, a latency histogram, active families, reuse detections, re-grants and heartbeat
// revocations. All maintained in memory (the active-family gauge is recounted once a minute by
// the housekeeping timer), so a scrape costs no database work.
import { RefreshTally } from './operator/refresh-tally.ts';
import { renderProcessMetrics } from './process-metrics.ts';

/** A security event as the console lists it (message and glidein only: never a secret). */
export interface SecurityEventNote {
  at: number;
  message: string;
  glideinId: string | undefined;
}

const RECENT_SECURITY_EVENTS = 20;

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #latency = new Map<string, { counts: number[]; sum: number; count: number }>();
  reuseDetections = 0;
  /** A family's first refresh token presented by a second key (the family was revoked). */
  firstTokenReuse = 0;
  /** Live families, as last counted by the housekeeping timer. */
  activeFamilies = 0;
  /** Live families per entry, recounted with activeFamilies. */
  activeByEntry: Record<string, number> = {};
  /** Families revoked for sending no heartbeat for heartbeatTimeout seconds. */
  heartbeatRevocations = 0;
  /** Spent tokens re-granted to the bound key within rotationGraceSeconds (lost answers). */
  regrants = 0;
  /** Re-grants refused by their own rate limit (a storm from one key: issue 26 item 2). */
  regrantsLimited = 0;
  securityEvents = 0;
  /** Refreshes per entry and hour, for the operator views (added to the store by housekeeping). */
  readonly tally = new RefreshTally();
  /** The latest security events, newest first (bounded). */
  readonly recentSecurity: SecurityEventNote[] = [];

  noteSecurity(message: string, glideinId: string | undefined, at: number): void {
    this.recentSecurity.unshift({ at, message, glideinId });
    this.recentSecurity.length = Math.min(this.recentSecurity.length, RECENT_SECURITY_EVENTS);
  }

  observe(route: string, outcome: string, seconds: number): void {
    const key = `route="${route}",outcome="${outcome}"`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let h = this.#latency.get(route);
    if (!h) {
      h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#latency.set(route, h);
    }
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.counts[i]!++;
    h.sum += seconds;
    h.count++;
  }

  render(): string {
    const out: string[] = [];
    out.push('# HELP glidein_refresh_requests_total Requests by route and outcome.', '# TYPE glidein_refresh_requests_total counter');
    for (const [k, v] of this.#requests) out.push(`glidein_refresh_requests_total{${k}} ${v}`);
    out.push('# HELP glidein_refresh_request_duration_seconds Request latency.', '# TYPE glidein_refresh_request_duration_seconds histogram');
    for (const [route, h] of this.#latency) {
      BUCKETS.forEach((b, i) => out.push(`glidein_refresh_request_duration_seconds_bucket{route="${route}",le="${b}"} ${h.counts[i]}`));
      out.push(`glidein_refresh_request_duration_seconds_bucket{route="${route}",le="+Inf"} ${h.count}`);
      out.push(`glidein_refresh_request_duration_seconds_sum{route="${route}"} ${h.sum}`);
      out.push(`glidein_refresh_request_duration_seconds_count{route="${route}"} ${h.count}`);
    }
    out.push('# HELP glidein_refresh_active_families Refresh families neither revoked nor expired.', '# TYPE glidein_refresh_active_families gauge');
    out.push(`glidein_refresh_active_families ${this.activeFamilies}`);
    out.push('# HELP glidein_refresh_live_pilots Live pilots (families neither revoked nor expired) per entry.', '# TYPE glidein_refresh_live_pilots gauge');
    for (const [entry, n] of Object.entries(this.activeByEntry)) out.push(`glidein_refresh_live_pilots{entry="${entry.replace(/["\\\n]/g, '')}"} ${n}`);
    out.push('# HELP glidein_refresh_token_reuse_total Spent refresh tokens presented again (family revoked).', '# TYPE glidein_refresh_token_reuse_total counter');
    out.push(`glidein_refresh_token_reuse_total ${this.reuseDetections}`);
    out.push('# HELP glidein_refresh_first_token_reuse_total First refresh tokens presented by a second DPoP key (family revoked).', '# TYPE glidein_refresh_first_token_reuse_total counter');
    out.push(`glidein_refresh_first_token_reuse_total ${this.firstTokenReuse}`);
    out.push('# HELP glidein_refresh_security_events_total Refused proofs, reuse, bad admin tokens.', '# TYPE glidein_refresh_security_events_total counter');
    out.push(`glidein_refresh_security_events_total ${this.securityEvents}`);
    out.push('# HELP glidein_refresh_regrants_total Spent tokens re-granted to the bound key within the grace window (lost answers).', '# TYPE glidein_refresh_regrants_total counter');
    out.push(`glidein_refresh_regrants_total ${this.regrants}`);
    out.push('# HELP glidein_refresh_regrants_limited_total Re-grants refused by the re-grant rate limit (a spent token presented again and again by one key).', '# TYPE glidein_refresh_regrants_limited_total counter');
    out.push(`glidein_refresh_regrants_limited_total ${this.regrantsLimited}`);
    out.push('# HELP glidein_refresh_heartbeat_revocations_total Families revoked after heartbeatTimeout seconds without a status report.', '# TYPE glidein_refresh_heartbeat_revocations_total counter');
    out.push(`glidein_refresh_heartbeat_revocations_total ${this.heartbeatRevocations}`);
    out.push(...renderProcessMetrics());
    return out.join('\n') + '\n';
  }
}
