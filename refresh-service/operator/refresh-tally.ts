// Refreshes answered per entry and hour, counted in memory as requests finish and added to the
// store by the housekeeping timer (and before an operator view is read), so the refresh path
// itself writes nothing more. Bounded: entries come from registered families, and the store
// keeps KEEP_S seconds of hours.
import type { RefreshCount, StateStore } from '../state/store.ts';

/** The routes whose answers count as refreshes. */
const REFRESH_ROUTES = new Set(['/v1/refresh', '/v1/token']);
export const KEEP_S = 2 * 24 * 3600;

export class RefreshTally {
  #counts = new Map<string, RefreshCount>();

  /** One answered request: counted if it was a refresh about a known entry. */
  observe(route: string, entry: string | undefined, status: number, now: number): void {
    if (entry === undefined || !REFRESH_ROUTES.has(route)) return;
    const hour = now - (now % 3600);
    const key = `${entry}\n${hour}`;
    let c = this.#counts.get(key);
    if (!c) {
      c = { entry, hour, ok: 0, failed: 0 };
      this.#counts.set(key, c);
    }
    if (status === 200) c.ok++;
    else c.failed++;
  }

  /** Add what was counted to the store (kept in memory again if the store refuses it). */
  async flush(store: StateStore, now: number): Promise<void> {
    const counts = [...this.#counts.values()];
    this.#counts = new Map();
    try {
      await store.addRefreshCounts(counts, now - KEEP_S);
    } catch (e) {
      for (const c of counts) {
        const key = `${c.entry}\n${c.hour}`;
        const cur = this.#counts.get(key);
        if (cur) {
          cur.ok += c.ok;
          cur.failed += c.failed;
        } else this.#counts.set(key, c);
      }
      throw e;
    }
  }
}
