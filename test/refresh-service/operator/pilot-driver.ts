// Drive pilots against a running service for the operator-view tests: register, refresh (which
// binds the family to the pilot's key), and post status reports signed by that key, with a
// validation report from a given node.
import { createDpopProof, generateDpopKey, htuOf, type DpopKey } from '../../../shared/dpop.ts';
import { registerPilot } from '../../../refresh-service/index.ts';
import { postJson, refresh, type HttpAnswer, type Sandbox } from '../fixture.ts';

export interface DrivenPilot {
  id: string;
  key: DpopKey;
  token: string;
}

export async function startPilot(sb: Sandbox, url: string, id: string, entry: string): Promise<DrivenPilot> {
  const bundle = await registerPilot({ stateDir: sb.stateDir, config: sb.config(), glideinId: id, entry, url });
  const key = await generateDpopKey();
  const r = await refresh(url, bundle.refresh_token, key);
  if (r.status !== 200) throw new Error(`first refresh of ${id}: ${r.status} ${JSON.stringify(r.body)}`);
  return { id, key, token: r.body['refresh_token'] as string };
}

/** Refresh again; the pilot keeps the new token when it is granted. */
export async function refreshAgain(url: string, p: DrivenPilot): Promise<HttpAnswer> {
  const r = await refresh(url, p.token, p.key);
  if (r.status === 200) p.token = r.body['refresh_token'] as string;
  return r;
}

export function report(url: string, p: DrivenPilot, body: Record<string, unknown>): Promise<HttpAnswer> {
  const target = `${url}/v1/status`;
  return createDpopProof(p.key, { htm: 'POST', htu: htuOf(target) }).then((dpop) => postJson(target, { glidein_id: p.id, ts: 0, ...body }, { dpop }));
}

/** A validation report as the pilot sends it: `fail` names a failed check (with its category). */
export function validationBody(node: string, fail?: { check: string; failure: string }): Record<string, unknown> {
  const checks = [{ name: 'cores', status: 'pass', value: 8, required: 1, detail: '8 usable', failure: null }];
  if (fail) checks.push({ name: fail.check, status: 'fail', value: null, required: null, detail: `${fail.check} failed`, failure: fail.failure } as never);
  return {
    state: fail ? 'validation-failed' : 'running',
    validation: {
      status: fail ? 'ERROR' : 'OK',
      json: { status: fail ? 'ERROR' : 'OK', durationMs: 5, checks, attributes: {} },
      xml: `<?xml version="1.0"?>\n<OSGTestResult id="glidein_validate" version="4.3.1">\n  <operatingenvironment>\n    <env name="hostname">${node}</env>\n  </operatingenvironment>\n</OSGTestResult>\n`,
    },
  };
}
