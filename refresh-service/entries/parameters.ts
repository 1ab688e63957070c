// Entry parameters for one registration (GlideinWMS ProjectId, VMId, VMType …): fixed values as
// configured, round-robin ones as the next item in turn (GlideinWMS's RoundRobinGenerator),
// counted in the state store so the turn survives restarts and is shared by every instance.
import type { StateStore } from '../state/store.ts';
import type { ParameterSpec } from './entry-config.ts';

/** The values a registration of `entry` gets; each call advances every round-robin parameter by one. */
export async function assignParameters(store: StateStore, entry: string, specs: Readonly<Record<string, ParameterSpec>>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if ('value' in spec) {
      out[name] = spec.value;
    } else {
      const n = await store.nextRoundRobin(`${entry}/${name}`);
      out[name] = spec.roundRobin[n % spec.roundRobin.length]!;
    }
  }
  return out;
}

/** What the parameters will look like, without advancing any counter (for checks before anything is written). */
export function previewParameters(specs: Readonly<Record<string, ParameterSpec>>): Record<string, string> {
  return Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, 'value' in spec ? spec.value : spec.roundRobin[0]!]));
}
