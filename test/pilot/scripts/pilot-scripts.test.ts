// The entry's VO/factory scripts in a real pilot run (issue 24 section 5): runPilot in-process
// against a real HTTP server on loopback that serves /v1/scripts (each request's DPoP proof
// verified with the service's own verifier and bound to the pilot's key), real bash scripts as
// a real unprivileged account (the test's own when not root). Tables: a script that writes
// attributes, a hash mismatch, a hung script, a periodic script that fails on its third run, a
// script the service does not hold, and a root pilot's scripts (refused).
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPilot } from '../../../agent/pilot/pilot.ts';
import { emptyCounts, type PayloadContext, type PayloadEnd, type PayloadSource } from '../../../agent/pilot/payload-source.ts';
import type { ValidationOutcome } from '../../../agent/pilot/validation.ts';
import type { ScriptRow } from '../../../agent/pilot/scripts/vo-scripts.ts';
import { formatClassad, formatTable } from '../../../agent/validate/index.ts';
import type { ValidationReport } from '../../../agent/validate/types.ts';
import { verifyDpopProof } from '../../../refresh-service/dpop-verify.ts';
import { silentLogger } from '../../../shared/log.ts';
import { bundleWire, json, opaqueToken, scriptedServer, testJwt, writeBundle } from '../../fixtures/pilot/support.ts';
import { IS_ROOT, ensureAccount, removeAccount } from '../../helpers/accounts.ts';
import { isRunning } from '../../helpers/process-alive.ts';

const ACCOUNT = 'glvopilot';
let account: { uid: number; gid: number };
let dir: string;
let srv: Awaited<ReturnType<typeof scriptedServer>>;
/** What the scripted service holds: sha256 → bytes. */
let held: Map<string, Buffer>;
/** Bytes served instead of the held ones (a tampered copy). */
let served: Map<string, Buffer>;
let proofs: { ok: boolean; jkt?: string }[];
/** Script requests answered 429 (Retry-After: 1) before the service serves again. */
let limited: number;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const PREAMBLE = `#!/bin/bash
glidein_config="$1"
source "$(grep -m1 '^ADD_CONFIG_LINE_SOURCE ' "$glidein_config" | cut -d ' ' -f 2-)"
condor_vars_file=$(gconfig_get CONDOR_VARS_FILE "$glidein_config")
error_gen=$(gconfig_get ERROR_GEN_PATH "$glidein_config")
`;
const script = (body: string) => Buffer.from(PREAMBLE + body);

beforeAll(() => {
  account = IS_ROOT ? ensureAccount(ACCOUNT) : { uid: process.getuid!(), gid: process.getgid!() };
});
afterAll(() => {
  if (IS_ROOT) removeAccount(ACCOUNT);
});

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'glidein-pilot-scripts-'));
  chmodSync(dir, 0o711);
  mkdirSync(join(dir, 'work'), { mode: 0o711 });
  chmodSync(join(dir, 'work'), 0o711);
  // Where the scripts leave their markers (they run as another account when the test is root).
  mkdirSync(join(dir, 'out'));
  chmodSync(join(dir, 'out'), 0o777);
  held = new Map();
  served = new Map();
  proofs = [];
  limited = 0;
  srv = await scriptedServer(async (req, res) => {
    if (req.url === '/v1/status') return json(res, 200, {});
    if (req.url === '/v1/scripts') {
      const verdict = await verifyDpopProof(req.headers['dpop'] as string | undefined, { htm: 'POST', htu: `${srv.url}/v1/scripts`, now: Math.floor(Date.now() / 1000), window: 60, skew: 5 });
      proofs.push(verdict.ok ? { ok: true, jkt: verdict.jkt } : { ok: false });
      const { sha256 } = JSON.parse(req.body) as { sha256: string };
      const bytes = served.get(sha256) ?? held.get(sha256);
      if (!verdict.ok) return json(res, 401, { error: 'invalid_dpop_proof', error_description: verdict.reason });
      if (limited > 0) {
        limited--;
        return json(res, 429, { error: 'rate_limited', error_description: 'too many requests for this glidein' }, { 'retry-after': '1' });
      }
      if (!bytes) return json(res, 404, { error: 'unknown_script', error_description: 'not one of this entry\'s scripts' });
      return json(res, 200, { sha256, content: bytes.toString('base64') });
    }
    const nowS = Math.floor(Date.now() / 1000);
    json(res, 200, {
      refresh_token: opaqueToken(),
      credentials: [{ type: 'idtoken', purpose: 'collector', token: testJwt({ iss: 'pool.test', sub: 'e@pool.test', exp: nowS + 600, jti: 'c'.repeat(32) }) }],
      refresh_after: nowS + 300,
    });
  });
});
afterEach(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

const nodeOk: ValidationOutcome = { report: { status: 'OK', checks: [{ name: 'cores', status: 'pass', value: 2 }], attributes: { GLIDEIN_CPUS: 2 } }, xml: '<x/>', table: '' };

interface Declared {
  name: string;
  content: Buffer;
  stage: 'validate' | 'setup' | 'periodic';
  period?: number;
  deadline?: number;
}

/** A source that records its start, retires into 'retired-and-empty', and stops at once. */
function source(onStart?: () => void) {
  let end!: (e: PayloadEnd) => void;
  const seen: { ctx?: PayloadContext; retired: boolean; started: boolean } = { retired: false, started: false };
  const s: PayloadSource = {
    kind: 'recording',
    done: new Promise<PayloadEnd>((r) => (end = r)),
    async start(ctx) {
      seen.ctx = ctx;
      seen.started = true;
      onStart?.();
    },
    retire: () => {
      seen.retired = true;
      end({ kind: 'retired-and-empty' });
    },
    async stop() {},
    counts: emptyCounts,
  };
  return { s, seen };
}

async function run(scripts: Declared[], o: { drainAtStart?: boolean; asAccount?: boolean; freshBundle?: boolean } = {}) {
  for (const d of scripts) held.set(sha(d.content), d.content);
  const nowS = Math.floor(Date.now() / 1000);
  const wire = { ...bundleWire({ refreshUrl: srv.url, nowS, ccredLifetimeS: o.freshBundle ? 600 : -60, scredLifetimeS: 600 }), scripts: scripts.map((d) => ({ name: d.name, sha256: sha(d.content), stage: d.stage, ...(d.period ? { period: d.period } : {}), deadline: d.deadline ?? 20 })) };
  const bundlePath = writeBundle(join(dir, 'b.json'), wire);
  const abort = new AbortController();
  const { s, seen } = source(o.drainAtStart ? () => abort.abort({ signal: 'SIGTERM', fast: false }) : undefined);
  const summary = await runPilot({
    bundlePath, workdir: join(dir, 'work'), source: s, failureDelayS: 0, keepWorkdir: false, heartbeatIntervalS: 0, killGraceS: 2,
    env: { PATH: process.env['PATH'], SECRET_OF_THE_PILOT: 'x' }, log: silentLogger, signal: abort.signal, validate: async () => nodeOk, minFreeBytes: 0,
    ...(o.asAccount === false ? {} : { scriptAccount: account }),
  });
  const reports = srv.requests.filter((r) => r.url === '/v1/status').map((r) => JSON.parse(r.body) as { state: string; scripts?: ScriptRow[]; validation?: { json: ValidationReport; xml: string } });
  const validation = reports.find((r) => r.validation)?.validation;
  return { summary, seen, reports, validation, checks: validation?.json.checks ?? [] };
}

describe('the entry\'s scripts in a pilot run', () => {
  it('fetches each script with a DPoP proof from the pilot\'s key, runs it as the pilot, and its attributes reach the report, the startd and the status report', async () => {
    const marker = join(dir, 'out', 'env.txt');
    const check = script(`add_config_line VO_SW_VERSION "1.2"
add_condor_vars_line VO_SW_VERSION "S" "-" "+" "N" "Y" "-"
add_config_line HAS_VO_REPO True
add_condor_vars_line HAS_VO_REPO "C" "-" "+" "N" "Y" "-"
{ id -u; echo "entry=$(gconfig_get GLIDEIN_Entry_Name)"; echo "cpus=$(gconfig_get GLIDEIN_CPUS)"; echo "secret=$SECRET_OF_THE_PILOT"; } > ${marker}
"$error_gen" -ok "vo_check.sh" "repo" "ok"
`);
    const setup = script(`[ "$(gconfig_get VO_SW_VERSION)" = 1.2 ] || exit 9\n"$error_gen" -ok "vo_setup.sh"\n`);
    const r = await run([{ name: 'vo_check.sh', content: check, stage: 'validate' }, { name: 'vo_setup.sh', content: setup, stage: 'setup' }], { drainAtStart: true, freshBundle: true });
    expect(r.summary).toMatchObject({ validation: 'OK', reason: 'signal' });
    // A fresh bundle needs no refresh before validation, but the scripts are fetched with the
    // bound key: the binding refresh comes first (the service refuses an unbound family's key).
    const urls = srv.requests.map((q) => q.url);
    expect(urls.indexOf('/v1/refresh')).toBeGreaterThanOrEqual(0);
    expect(urls.indexOf('/v1/refresh')).toBeLessThan(urls.indexOf('/v1/scripts'));
    expect(r.seen.started).toBe(true);
    expect(proofs).toHaveLength(2);
    expect(proofs.every((p) => p.ok)).toBe(true);
    expect(new Set(proofs.map((p) => p.jkt)).size).toBe(1);
    expect(readFileSync(marker, 'utf8')).toBe(`${account.uid}\nentry=TEST_ENTRY\ncpus=2\nsecret=\n`);
    expect(r.checks.map((c) => [c.name, c.status])).toEqual([['cores', 'pass'], ['script/vo_check.sh', 'pass'], ['script/vo_setup.sh', 'pass']]);
    const report = r.seen.ctx!.validation as ValidationReport;
    expect(report.attributes).toMatchObject({ VO_SW_VERSION: '1.2', HAS_VO_REPO: true, GLIDEIN_CPUS: 2 });
    // All four formats carry them.
    expect(formatClassad(report)).toContain('VO_SW_VERSION = "1.2"');
    expect(formatClassad(report)).toMatch(/^HAS_VO_REPO = true$/im);
    expect(formatTable(report)).toContain('script/vo_setup.sh');
    expect(r.validation!.xml).toContain('<metric name="VO_SW_VERSION"');
    expect(r.validation!.xml).toContain('script/vo_check.sh: pass');
    const rows = r.reports.at(-1)!.scripts!;
    expect(rows.map((x) => [x.name, x.stage, x.status, x.runs, x.exit_code])).toEqual([['vo_check.sh', 'validate', 'OK', 1, 0], ['vo_setup.sh', 'setup', 'OK', 1, 0]]);
    expect(rows[0]!.attributes).toEqual({ VO_SW_VERSION: '1.2', HAS_VO_REPO: true });
  });

  it('a script whose served bytes do not match the declared sha256 fails validation as Config, and nothing runs', async () => {
    const marker = join(dir, 'out', 'ran');
    const good = script(`touch ${marker}\n`);
    served.set(sha(good), script(`touch ${marker}; echo tampered\n`));
    const r = await run([{ name: 'vo_check.sh', content: good, stage: 'validate' }]);
    expect(r.summary).toMatchObject({ exitCode: 1, reason: 'validation-failed', validation: 'ERROR' });
    expect(r.seen.started).toBe(false);
    expect(existsSync(marker)).toBe(false);
    const c = r.checks.find((x) => x.name === 'script/vo_check.sh')!;
    expect(c).toMatchObject({ status: 'fail', failure: 'Config' });
    expect(c.detail).toContain('is not the declared');
    expect(r.validation!.xml).toContain('<metric name="failure" ts="');
    expect(r.validation!.xml).toMatch(/<metric name="TestID"[^>]*>script\/vo_check\.sh</);
  });

  it('a hung script is killed at its deadline with what it started, fails validation, and the scripts after it do not run', async () => {
    const pidFile = join(dir, 'out', 'pid');
    const later = join(dir, 'out', 'later');
    const hung = script(`sleep 300 & echo $! > ${pidFile}; wait\n`);
    const r = await run([{ name: 'hang.sh', content: hung, stage: 'validate', deadline: 1 }, { name: 'later.sh', content: script(`touch ${later}\n`), stage: 'setup' }]);
    expect(r.summary).toMatchObject({ exitCode: 1, reason: 'validation-failed' });
    expect(r.checks.find((c) => c.name === 'script/hang.sh')).toMatchObject({ status: 'fail', failure: 'VO_Config', detail: 'hang.sh: killed at its deadline of 1 s' });
    expect(r.checks.find((c) => c.name === 'script/later.sh')).toMatchObject({ status: 'skip', detail: 'not run: hang.sh failed' });
    expect(existsSync(later)).toBe(false);
    expect(isRunning(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });

  it('a periodic script that fails on its third run retires the pilot (no new work), which then ends with exit 1', async () => {
    const count = join(dir, 'out', 'count');
    const periodic = script(`n=$(( $(cat ${count} 2>/dev/null || echo 0) + 1 )); echo $n > ${count}
[ $n -lt 3 ] || { "$error_gen" -error "vo_periodic.sh" "VO_Config" "repository gone after run $n"; exit 1; }
"$error_gen" -ok "vo_periodic.sh"
`);
    const r = await run([{ name: 'vo_periodic.sh', content: periodic, stage: 'periodic', period: 1 }]);
    expect(r.summary).toMatchObject({ exitCode: 1, reason: 'periodic-script-failed', validation: 'OK' });
    expect(r.seen).toMatchObject({ started: true, retired: true });
    expect(readFileSync(count, 'utf8').trim()).toBe('3');
    expect(r.checks.find((c) => c.name === 'script/vo_periodic.sh')).toMatchObject({ status: 'skip', detail: 'periodic, every 1 s once payloads run' });
    const rows = r.reports.filter((x) => x.scripts).at(-1)!.scripts!;
    expect(rows[0]).toMatchObject({ name: 'vo_periodic.sh', stage: 'periodic', status: 'ERROR', runs: 3, exit_code: 1 });
    expect(rows[0]!.detail).toContain('repository gone after run 3');
  });

  it('a fetch the service rate-limits (429, Retry-After) is retried after the wait, not failed', async () => {
    limited = 2;
    const s = script('"$error_gen" -ok vo_check.sh\n');
    const r = await run([{ name: 'vo_check.sh', content: s, stage: 'validate' }], { drainAtStart: true });
    expect(r.summary).toMatchObject({ validation: 'OK', reason: 'signal' });
    expect(r.checks.find((c) => c.name === 'script/vo_check.sh')).toMatchObject({ status: 'pass' });
    expect(proofs).toHaveLength(3);
  });

  it('a script the service does not hold (404) fails validation as Config', async () => {
    const s = script('exit 0\n');
    const r = run([{ name: 'vo_check.sh', content: s, stage: 'validate' }]);
    held.clear(); // run() declares it; the service forgets it before the pilot asks
    const res = await r;
    expect(res.summary).toMatchObject({ exitCode: 1, reason: 'validation-failed' });
    const c = res.checks.find((x) => x.name === 'script/vo_check.sh')!;
    expect(c).toMatchObject({ status: 'fail', failure: 'Config' });
    expect(c.detail).toContain('404 unknown_script');
  });

  it.runIf(IS_ROOT)('a root pilot runs no script: refused as Config', async () => {
    const marker = join(dir, 'out', 'ran');
    const r = await run([{ name: 'vo_check.sh', content: script(`touch ${marker}\n`), stage: 'validate' }], { asAccount: false });
    expect(r.summary).toMatchObject({ exitCode: 1, reason: 'validation-failed' });
    expect(r.checks.find((c) => c.name === 'script/vo_check.sh')).toMatchObject({ status: 'fail', failure: 'Config', detail: 'vo_check.sh: scripts never run as root; not run' });
    expect(existsSync(marker)).toBe(false);
  });
});
