// POST /v1/status: heartbeats, the validation report and the final report, each authenticated
// by a DPoP proof from the pilot's bound key (DESIGN.md section 9). A failed post is a value:
// reporting must never stop the pilot.
import { createDpopProof, htuOf, type DpopKey } from '../../shared/dpop.ts';
import { STATUS_PATH } from '../../shared/protocol.ts';
import type { Logger } from '../../shared/log.ts';
import type { Endpoints } from './endpoints.ts';
import type { HttpClient, RequestLimits } from './http-client.ts';
import type { Clock } from './clock.ts';
import type { ScriptRow } from './scripts/vo-scripts.ts';

export type PilotState = 'starting' | 'validation-failed' | 'running' | 'retiring' | 'draining' | 'exited';

export interface JobCounts {
  started: number;
  completed: number;
  failed: number;
  held: number;
  killed: number;
  running: number;
}

/** The status body (snake_case, like the rest of the wire protocol). */
export interface StatusReport {
  glidein_id: string;
  entry: string;
  state: PilotState;
  ts: number;
  jobs: JobCounts;
  refresh: { refreshes: number; failures: number; last_error: string | null };
  validation?: { status: string; json: unknown; xml: string } | undefined;
  exit?: { code: number; reason: string } | undefined;
  /** The site's audit records (issue 25): written, failed, the latest problem; absent before any. */
  audit?: { written: number; failed: number; problem: string | null } | undefined;
  /** The entry's VO/factory scripts (issue 24 section 5): each one's latest result; absent when it lists none. */
  scripts?: ScriptRow[] | undefined;
}

export interface StatusClientOptions {
  /** The service's instances; reports go to the one the refresher uses now. */
  endpoints: Endpoints;
  key: DpopKey;
  http: HttpClient;
  log: Logger;
  clock: Clock;
}

export class StatusClient {
  readonly #o: StatusClientOptions;
  /** Counts for the summary. */
  readonly stats = { sent: 0, failed: 0 };

  constructor(options: StatusClientOptions) {
    this.#o = options;
  }

  /** The status endpoint of the instance in use now. */
  get url(): string {
    return this.#o.endpoints.url(STATUS_PATH);
  }

  /** `limits`: a drain's abort for heartbeats, a short timeout for the final report (issue 26 item 3). */
  async post(report: StatusReport, limits: RequestLimits = {}): Promise<{ ok: boolean; status: number | undefined }> {
    try {
      const url = this.url;
      const proof = await createDpopProof(this.#o.key, { htm: 'POST', htu: htuOf(url), iat: Math.floor(this.#o.clock.now() / 1000) });
      const res = await this.#o.http.postJson(url, { dpop: proof }, JSON.stringify(report), limits);
      const ok = res.status >= 200 && res.status < 300;
      if (ok) this.stats.sent++;
      else {
        this.stats.failed++;
        this.#o.log.warn('status report refused', { status: res.status, state: report.state });
      }
      return { ok, status: res.status };
    } catch (e) {
      this.stats.failed++;
      this.#o.log.warn('status report failed', { error: (e as Error).message, state: report.state });
      return { ok: false, status: undefined };
    }
  }
}
