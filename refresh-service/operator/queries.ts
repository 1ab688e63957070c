// The operator views read from a store: what the pilots and entries commands print, the admin
// API answers and the console shows.
import type { StateStore } from '../state/store.ts';
import { DAY, entryViews, type EntryView } from './entry-view.ts';
import { selectPilots, type PilotQuery, type PilotView } from './pilot-view.ts';

export async function queryPilots(store: StateStore, q: PilotQuery, now: number): Promise<PilotView[]> {
  const records = await store.listPilots(q.entry === undefined ? {} : { entry: q.entry });
  return selectPilots(records, q, now);
}

export async function queryEntries(store: StateStore, now: number): Promise<EntryView[]> {
  const [records, counts] = await Promise.all([store.listPilots({}), store.refreshCounts(now - DAY - 3600)]);
  return entryViews(selectPilots(records, {}, now), counts, now);
}

/** One pilot, or undefined when no family has that id. */
export async function queryPilot(store: StateStore, glideinId: string, now: number): Promise<PilotView | undefined> {
  return selectPilots(await store.listPilots({ glideinId }), {}, now)[0];
}
