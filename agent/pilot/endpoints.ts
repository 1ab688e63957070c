// The refresh service's instances as the bundle lists them (refresh_url: one URL or several,
// DESIGN.md section 9): the agent talks to one at a time, fails over to the next on a
// connection error or a 5xx, and sticks to the one that answered.
import { endpointUrl } from './bundle.ts';

export class Endpoints {
  readonly #bases: readonly string[];
  #current = 0;

  constructor(refreshUrls: readonly string[]) {
    if (refreshUrls.length === 0) throw new Error('Endpoints: no refresh URL');
    this.#bases = [...refreshUrls];
  }

  get size(): number {
    return this.#bases.length;
  }

  /** The endpoint `path` on the instance in use now. */
  url(path: string): string {
    return endpointUrl(this.#bases[this.#current]!, path);
  }

  /** Every instance's `path`, starting with the one in use, in failover order: [index, url]. */
  attempts(path: string): [number, string][] {
    return this.#bases.map((_b, i) => {
      const idx = (this.#current + i) % this.#bases.length;
      return [idx, endpointUrl(this.#bases[idx]!, path)];
    });
  }

  /** Stick to this instance (it answered). */
  use(index: number): void {
    if (index >= 0 && index < this.#bases.length) this.#current = index;
  }
}
