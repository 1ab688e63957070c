// A refusal of a request: becomes a JSON error response `{"error", "error_description"}` with
// a 4xx status (DESIGN.md section 9: never a 5xx for bad input). Handlers throw it; the router
// answers it.
import type { ProtocolErrorName } from '../../shared/protocol.ts';

export class HttpRefusal extends Error {
  readonly status: number;
  readonly error: ProtocolErrorName;
  /** The outcome label in the request log line and the metrics. */
  readonly outcome: string;
  /** Seconds for a Retry-After header (429). */
  readonly retryAfter: number | undefined;
  constructor(status: number, error: ProtocolErrorName, description: string, outcome: string = error, retryAfter?: number) {
    super(description);
    this.status = status;
    this.error = error;
    this.outcome = outcome;
    this.retryAfter = retryAfter;
  }
}
