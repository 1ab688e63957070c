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
  /**
   * Whether an invalid_dpop_proof answer carries a `WWW-Authenticate: DPoP` challenge (a
   * protected resource's way, RFC 9449 section 7.1); the OAuth token endpoint answers with the
   * JSON body alone (RFC 9449 section 5).
   */
  readonly challenge: boolean;
  constructor(status: number, error: ProtocolErrorName, description: string, outcome: string = error, retryAfter?: number, challenge = true) {
    super(description);
    this.status = status;
    this.error = error;
    this.outcome = outcome;
    this.retryAfter = retryAfter;
    this.challenge = challenge;
  }
}
