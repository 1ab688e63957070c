// The outcome of the state store's real writes, for GET /readyz (issue 26 item 4): a refresh that
// could not commit (full disk, read-only state.db or file system) keeps the service "not ready"
// until a refresh commits again or a probe write as large as one succeeds. A tiny probe alone
// is not proof: on a full disk it fits in the space a failed commit left allocated.
import { GlideinError } from '../../shared/errors.ts';
import type { StateStore } from './store.ts';

/** Writes whose failure means the store cannot take refreshes. */
const WATCHED = new Set<string>(['settleRefresh', 'recordJti', 'recordStatus', 'recordValidation', 'revokeByGlideinId', 'revokeByEntry', 'revokeSilentFamilies', 'addRefreshCounts', 'putVoCredential', 'nextRoundRobin']);
/** Only a refresh's own commit proves that refreshes work again. */
const CLEARS = new Set<string>(['settleRefresh']);

/** SQLite result codes an operator can act on (node:sqlite gives the number as `errcode`). */
const SQLITE_CODES: Record<number, string> = { 5: 'SQLITE_BUSY', 8: 'SQLITE_READONLY', 10: 'SQLITE_IOERR', 13: 'SQLITE_FULL', 14: 'SQLITE_CANTOPEN' };

export interface WriteFailure {
  /** The store method that failed, e.g. settleRefresh. */
  method: string;
  /** Unix milliseconds. */
  at: number;
  message: string;
}

/** `database or disk is full (SQLITE_FULL)`, or the error's message. */
export function describeStoreError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const errcode = (e as { errcode?: unknown } | null)?.errcode;
  const name = typeof errcode === 'number' ? SQLITE_CODES[errcode & 0xff] : undefined;
  return name === undefined ? message : `${message} (${name})`;
}

export class WriteWatch {
  #failure: WriteFailure | undefined;

  get lastFailure(): WriteFailure | undefined {
    return this.#failure;
  }

  failed(method: string, e: unknown): void {
    this.#failure = { method, at: Date.now(), message: describeStoreError(e) };
  }

  cleared(): void {
    this.#failure = undefined;
  }
}

/** A caller's mistake the store refused (a duplicate id …) says nothing about its storage. */
function isStorageFailure(e: unknown): boolean {
  return !(e instanceof GlideinError) || e.code === 'GLIDEIN_ERR_STATE';
}

/** `store`, with the outcome of its watched writes recorded in `watch`. */
export function watchWrites(store: StateStore, watch: WriteWatch): StateStore {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (typeof prop !== 'string' || !WATCHED.has(prop)) return method.bind(target);
      return async (...args: unknown[]) => {
        try {
          const result = await method.apply(target, args);
          if (CLEARS.has(prop)) watch.cleared();
          return result;
        } catch (e) {
          if (isStorageFailure(e)) watch.failed(prop, e);
          throw e;
        }
      };
    },
  });
}
