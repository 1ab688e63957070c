// `glidein demo` (DESIGN.md section 11): the whole system on this machine. A refresh service on
// 127.0.0.1 with a temporary state dir and short lifetimes, a registered pilot, and the agent
// running sample payloads from a spool; it prints the validation table, each refresh as it
// happens, each job, and a summary, then removes everything it made.
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type LogLevel, type Logger } from '../../shared/log.ts';
import { planIdentityChecks } from '../validate/identity-plan.ts';
import { decodeJwtUnverified } from '../../shared/jwt-decode.ts';
import { createPoolKeyFile, loadServiceConfig, registerPilot, startRefreshService, type RunningService, type ServiceConfig } from '../../refresh-service/index.ts';
import { lookupAccount } from '../sandbox/account.ts';
import { loadPolicy } from '../sandbox/index.ts';
import { createDemoSite } from './demo-site.ts';
import { auditSummary } from '../audit/audit-summary.ts';
import { runPilot, type PilotEvent, type PilotSummary } from './pilot.ts';
import type { RefresherEvent } from './refresher.ts';
import { makeValidate } from './validation.ts';
import { DEMO_CONTAINER_SCRIPT, prepareDemoContainer, type DemoContainer } from './demo-container.ts';
import { makeSandboxLaunch } from './sandbox-launch.ts';
import { SpoolSource } from './spool-source.ts';

/** Short lifetimes so refreshes visibly happen within the demo. */
export const DEMO_LIFETIMES = { idtoken: 20, scitoken: 45, family: 600 } as const;
/** How long the long payload runs: longer than the first C-CRED. */
export const DEMO_LONG_JOB_SECONDS = 30;

export interface DemoIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  log: Logger;
}

export interface DemoOutcome {
  exitCode: number;
  summary: PilotSummary | undefined;
  refreshesShown: number;
  durationMs: number;
  leftBehind: boolean;
}

function clockTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().slice(11, 19);
}

type Out = (line?: string) => void;

/** The factory side: a refresh service with a fresh pool key and short lifetimes, and a registered pilot. */
async function startDemoService(root: string, io: DemoIo, out: Out) {
  const stateDir = join(root, 'service-state');
  const poolKey = join(root, 'POOL');
  await createPoolKeyFile(poolKey);
  const base = await loadServiceConfig(undefined, { trustDomain: 'demo.glidein.invalid', poolSigningKeyFile: poolKey, refreshFamilyLifetime: DEMO_LIFETIMES.family });
  // Below the config file's 60 s floor on purpose: the demo must show refreshes in seconds.
  const config: ServiceConfig = { ...base, idtokenLifetime: DEMO_LIFETIMES.idtoken, scitokenLifetime: DEMO_LIFETIMES.scitoken };
  const service = await startRefreshService({ stateDir, config, listen: '127.0.0.1:0', log: io.log.child({ component: 'demo-service' }) });
  out(`glidein demo — refresh service on ${service.url} (C-CRED ${DEMO_LIFETIMES.idtoken} s, S-CRED ${DEMO_LIFETIMES.scitoken} s)`);
  const wire = await registerPilot({ stateDir, config, glideinId: `demo-${process.pid}`, entry: 'DEMO_ENTRY', url: service.url, lifetime: DEMO_LIFETIMES.family });
  const bundlePath = join(root, 'bundle.json');
  writeFileSync(bundlePath, JSON.stringify(wire), { mode: 0o600 });
  out(`registered pilot ${wire.glidein_id} (entry ${wire.entry}); bundle written 0600 with ${wire.credentials.length} credentials`);
  return { service, wire, bundlePath };
}

/** The payloads, in a spool: one reads its J-CRED, one outlives the first C-CRED, one (root) checks the identity switch. */
async function writeDemoJobs(root: string, site: Awaited<ReturnType<typeof createDemoSite>>, nobody: { uid: number; gid: number } | null, ctr: DemoContainer) {
  const outDir = join(root, 'job-output');
  mkdirSync(outDir, { mode: 0o700 });
  if (nobody) chownSync(outDir, nobody.uid, nobody.gid);
  const spool = join(root, 'spool');
  mkdirSync(spool, { mode: 0o700 });
  const job = async (id: string, sub: string, script: string, credentials: unknown[] = [], extra: Record<string, unknown> = {}) =>
    writeFileSync(join(spool, `${id}.json`), JSON.stringify({
      id, executable: '/bin/sh', args: ['-c', script], cwd: outDir, stdout: join(outDir, `${id}.out`), stderr: join(outDir, `${id}.err`),
      limits: { wallclockSeconds: 120 }, identity: await site.identityToken(sub, 600), credentials, ...extra,
    }));
  await job('read-bearer-token', 'alice',
    'echo "running as $(id -un) (uid $(id -u))"; echo "BEARER_TOKEN_FILE=$BEARER_TOKEN_FILE"; ' +
    'echo "J-CRED: $(wc -c < "$BEARER_TOKEN_FILE") bytes, mode $(stat -c %a "$BEARER_TOKEN_FILE"), owner $(stat -c %U "$BEARER_TOKEN_FILE")"',
    [{ purpose: 'storage', type: 'scitoken', token: await site.storageToken('alice', 600) }]);
  await job('outlive-c-cred', 'bob', `echo "started as $(id -un); sleeping ${DEMO_LONG_JOB_SECONDS} s, past the first C-CRED"; sleep ${DEMO_LONG_JOB_SECONDS}; echo done`);
  if (nobody) await job('as-nobody', 'alice', 'echo "id: $(id)"; if cat /etc/shadow >/dev/null 2>&1; then echo "can read /etc/shadow (BAD)"; else echo "cannot read /etc/shadow: root was dropped"; fi');
  if ('image' in ctr) {
    await job('in-container', 'alice', DEMO_CONTAINER_SCRIPT, [{ purpose: 'storage', type: 'scitoken', token: await site.storageToken('alice', 600) }], { container: { image: ctr.image } });
  }
  return { spool, outDir };
}

function refreshLine(ev: RefresherEvent, shown: number): string {
  if (ev.type === 'refreshed') {
    const parts = ev.credentials.map((c) => `${c.purpose} ${c.type} until ${c.expiresAt === null ? 'never' : clockTime(c.expiresAt)}`);
    return `refresh #${shown} (${ev.durationMs} ms): ${parts.join(', ')}${ev.nextInMs === null ? '' : `; next in ${(ev.nextInMs / 1000).toFixed(1)} s`}`;
  }
  if (ev.type === 'refresh-failed') return `refresh failed: ${ev.error}${ev.retryInMs === null ? '' : `; retry in ${(ev.retryInMs / 1000).toFixed(1)} s`}`;
  if (ev.type === 'store-failed') return `credential store cannot write (${ev.errno}) in ${ev.dir}: draining`;
  return `C-CRED expired at ${clockTime(ev.expiredAt)}: draining`;
}

/** The story as it happens: validation, refreshes, jobs with their output, the drain. */
function eventPrinter(out: Out, elapsed: () => string, outDir: string, counter: { refreshes: number }) {
  return (e: PilotEvent) => {
    if (e.type === 'started') out(`${elapsed()} pilot started in ${e.workdir} (trust: ${e.trust})`);
    else if (e.type === 'validation') {
      out(`${elapsed()} node validation:`);
      out(e.outcome.table.replace(/^/gm, '    ').trimEnd());
    } else if (e.type === 'refresh') {
      if (e.event.type === 'refreshed') counter.refreshes++;
      out(`${elapsed()} ${refreshLine(e.event, counter.refreshes)}`);
    } else if (e.type === 'job-start') out(`${elapsed()} job ${e.name} started`);
    else if (e.type === 'job-end') {
      const r = e.result;
      out(`${elapsed()} job ${e.name} ${r.state} (exit ${r.exitCode ?? '-'}, uid ${r.uid ?? '-'}, ${(r.durationMs / 1000).toFixed(1)} s)${r.reason ? ': ' + r.reason : ''}`);
      for (const f of [`${e.name}.out`, `${e.name}.err`]) {
        const p = join(outDir, f);
        const text = existsSync(p) ? readFileSync(p, 'utf8').trimEnd() : '';
        if (text) out(text.replace(/^/gm, '      | '));
      }
    } else if (e.type === 'state' && e.state === 'draining') out(`${elapsed()} pilot draining (${e.reason ?? ''})`);
  };
}

function printSummary(out: Out, summary: PilotSummary, root: string, leftBehind: boolean, durationMs: number): void {
  const j = summary.jobs;
  out();
  out('summary');
  out(`  pilot ended:   ${summary.reason} (exit ${summary.exitCode}) after ${(summary.durationMs / 1000).toFixed(1)} s`);
  out(`  validation:    ${summary.validation}`);
  out(`  jobs:          ${j.started} started, ${j.completed} completed, ${j.failed} failed, ${j.held} held, ${j.killed} killed`);
  out(`  refreshes:     ${summary.refreshes} (${summary.refreshFailures} failed)`);
  out(`  heartbeats:    ${summary.heartbeats.sent} sent, ${summary.heartbeats.failed} failed`);
  out(`  left behind:   ${leftBehind ? `${root} (NOT removed)` : 'nothing (service closed, temporary files removed)'}`);
  out(`  demo run time: ${(durationMs / 1000).toFixed(1)} s`);
}

function cCredIdentity(token: unknown): string {
  try {
    return (decodeJwtUnverified(token as string).claims['sub'] as string) ?? '';
  } catch {
    return '';
  }
}

export async function runDemo(io: DemoIo): Promise<DemoOutcome> {
  const t0 = Date.now();
  const out: Out = (line = '') => io.stdout.write(line + '\n');
  const elapsed = () => `+${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
  const root = mkdtempSync(join(realpathSync(tmpdir()), 'glidein-demo-'));
  chmodSync(root, 0o711);
  let service: RunningService | undefined;
  let summary: PilotSummary | undefined;
  const counter = { refreshes: 0 };
  try {
    const nobody = process.geteuid?.() === 0 ? await lookupAccount('nobody') : null;
    const started = await startDemoService(root, io, out);
    service = started.service;
    // The site: token issuer, mapfile, policy; payloads map to `nobody` when we are root.
    const siteDir = join(root, 'site');
    mkdirSync(siteDir, { mode: 0o755 });
    const site = await createDemoSite({ dir: siteDir, identity: nobody ? 'setuid' : 'none', accounts: { alice: 'nobody', bob: 'nobody' } });
    const policy = await loadPolicy(site.policyPath);
    // The node validation tests this policy's identity switch, as 'glidein validate --policy' does:
    // the line printed here and the table's identity row tell the same story.
    const identity = await planIdentityChecks(site.policyPath, [], io.log);
    out(`site policy: identity ${policy.identity}${nobody ? ' (payloads mapped to nobody; the node validation tests the switch)' : ' (not root: payloads run as this user, no switch to test)'}`);
    const ctr = prepareDemoContainer(root, io.env);
    out('image' in ctr ? `container payload: job in-container runs in ${ctr.image} with ${ctr.runtime}` : `container payload skipped: ${ctr.skipped}`);
    const { spool, outDir } = await writeDemoJobs(root, site, nobody, ctr);
    const work = join(root, 'work');
    mkdirSync(work, { mode: 0o711 });
    out(`C-CRED identity: ${cCredIdentity(started.wire.credentials[0]?.['token'])}`);
    summary = await runPilot({
      bundlePath: started.bundlePath,
      workdir: work,
      source: new SpoolSource({ dir: spool, idleTimeoutS: 3, makeLaunch: makeSandboxLaunch(policy), pollMs: 250 }),
      failureDelayS: 0,
      keepWorkdir: false,
      heartbeatIntervalS: 10,
      killGraceS: policy.killGraceSeconds,
      env: io.env,
      log: io.log,
      signal: io.signal,
      validate: makeValidate(io.signal, identity),
      onEvent: eventPrinter(out, elapsed, outDir, counter),
    });
    if (site.auditFile) out(`site audit:    ${auditSummary(site.auditFile)} in ${site.auditFile}, which 'glidein audit --file' reads`);
  } finally {
    await service?.close().catch(() => undefined);
    rmSync(root, { recursive: true, force: true, maxRetries: 2 });
  }
  const leftBehind = existsSync(root);
  const durationMs = Date.now() - t0;
  printSummary(out, summary!, root, leftBehind, durationMs);
  const j = summary!.jobs;
  const ok = summary!.exitCode === 0 && j.completed === j.started && j.started > 0 && !leftBehind;
  return { exitCode: ok ? 0 : 1, summary, refreshesShown: counter.refreshes, durationMs, leftBehind };
}

/** The demo's logger: warnings and errors only unless --log-level says otherwise, so the story stays readable. */
export function demoLogger(stderr: NodeJS.WritableStream, format: 'human' | 'json', level: LogLevel = 'warn'): Logger {
  return createLogger({ format, level, sink: stderr });
}
