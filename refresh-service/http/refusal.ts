// A refusal of a request: becomes a JSON error response `{"error", "error_description"}` with
// a 4xx status (DESIGN.md section 9: never a 5xx for bad input). Handlers throw it; the router
// answers it.
import type { ProtocolErrorName } from '../../shared/protocol.ts';

export class HttpRefusal extends Error {
  readonly status: number;
  readonly error: ProtocolErrorName;
  /** The outcome label in the request log line and the metrics. */
  readonly outcome: string;
  /** Seconds for a Retry-After header (429, 503). */
  readonly retryAfter: number | undefined;
  /**
   * Header fields of the answer: `allow` on a 405, `www-authenticate` on a 401 (RFC 9110
   * sections 15.5.6 and 15.5.2). A 401 without one gets the DPoP challenge (router.ts).
   */
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, error: ProtocolErrorName, description: string, outcome: string = error, retryAfter?: number, headers: Record<string, string> = {}) {
    super(description);
    this.status = status;
    this.error = error;
    this.outcome = outcome;
    this.retryAfter = retryAfter;
    this.headers = headers;
  }
}
