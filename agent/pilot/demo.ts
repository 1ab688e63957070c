// `glidein demo` (DESIGN.md section 11): the whole system on this machine. A refresh service on
// 127.0.0.1 with a temporary state dir and short lifetimes, a registered pilot, and the agent
// running sample payloads from a spool; it prints the validation table, each refresh as it
// happens, each job, and a summary, then removes everything it made.
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '../../shared/log.ts';
import { decodeJwtUnverified } from '../../shared/jwt-decode.ts';
import { createPoolKeyFile, loadServiceConfig, registerPilot, startRefreshService, type RunningService, type ServiceConfig } from '../../refresh-service/index.ts';
import { lookupAccount } from '../sandbox/account.ts';
import { loadPolicy } from '../sandbox/index.ts';
import { createDemoSite } from './demo-site.ts';
import { runPilot, type PilotEvent, type PilotSummary } from './pilot.ts';
import { makeValidate } from './validation.ts';
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

export async function runDemo(io: DemoIo): Promise<DemoOutcome> {
  const t0 = Date.now();
  const out = (line = '') => io.stdout.write(line + '\n');
  const elapsed = () => `+${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
  const root = mkdtempSync(join(realpathSync(tmpdir()), 'glidein-demo-'));
  chmodSync(root, 0o711);
  let service: RunningService | undefined;
  let summary: PilotSummary | undefined;
  let refreshesShown = 0;
  try {
    const isRoot = process.geteuid?.() === 0;
    const nobody = isRoot ? await lookupAccount('nobody') : null;
    const setuid = isRoot && nobody !== null;

    // 1. The factory side: a refresh service with a fresh pool key and short lifetimes.
    const stateDir = join(root, 'service-state');
    const poolKey = join(root, 'POOL');
    await createPoolKeyFile(poolKey);
    const base = await loadServiceConfig(undefined, { trustDomain: 'demo.glidein.invalid', poolSigningKeyFile: poolKey, refreshFamilyLifetime: DEMO_LIFETIMES.family });
    // Below the config file's 60 s floor on purpose: the demo must show refreshes in seconds.
    const config: ServiceConfig = { ...base, idtokenLifetime: DEMO_LIFETIMES.idtoken, scitokenLifetime: DEMO_LIFETIMES.scitoken };
    service = await startRefreshService({ stateDir, config, listen: '127.0.0.1:0', log: io.log.child({ component: 'demo-service' }) });
    out(`glidein demo — refresh service on ${service.url} (C-CRED ${DEMO_LIFETIMES.idtoken} s, S-CRED ${DEMO_LIFETIMES.scitoken} s)`);
    const wire = await registerPilot({ stateDir, config, glideinId: `demo-${process.pid}`, entry: 'DEMO_ENTRY', url: service.url, lifetime: DEMO_LIFETIMES.family });
    const bundlePath = join(root, 'bundle.json');
    writeFileSync(bundlePath, JSON.stringify(wire), { mode: 0o600 });
    out(`registered pilot ${wire.glidein_id} (entry ${wire.entry}); bundle written 0600 with ${wire.credentials.length} credentials`);

    // 2. The site: token issuer, mapfile, policy; payloads map to `nobody` when we are root.
    const siteDir = join(root, 'site');
    mkdirSync(siteDir, { mode: 0o755 });
    const site = await createDemoSite({ dir: siteDir, identity: setuid ? 'setuid' : 'none', accounts: { alice: 'nobody', bob: 'nobody' } });
    const policy = await loadPolicy(site.policyPath);
    out(`site policy: identity ${policy.identity}${setuid ? ' (payloads mapped to nobody)' : ' (not root: payloads run as this user)'}`);

    // 3. The payloads, in a spool.
    const outDir = join(root, 'job-output');
    mkdirSync(outDir, { mode: 0o700 });
    if (setuid && nobody) chownSync(outDir, nobody.uid, nobody.gid);
    const spool = join(root, 'spool');
    mkdirSync(spool, { mode: 0o700 });
    const job = async (id: string, sub: string, script: string, credentials: unknown[] = []) =>
      writeFileSync(join(spool, `${id}.json`), JSON.stringify({
        id, executable: '/bin/sh', args: ['-c', script], cwd: outDir, stdout: join(outDir, `${id}.out`), stderr: join(outDir, `${id}.err`),
        limits: { wallclockSeconds: 120 }, identity: await site.identityToken(sub, 600), credentials,
      }));
    await job('read-bearer-token', 'alice',
      'echo "running as $(id -un) (uid $(id -u))"; echo "BEARER_TOKEN_FILE=$BEARER_TOKEN_FILE"; ' +
      'echo "J-CRED: $(wc -c < "$BEARER_TOKEN_FILE") bytes, mode $(stat -c %a "$BEARER_TOKEN_FILE"), owner $(stat -c %U "$BEARER_TOKEN_FILE")"',
      [{ purpose: 'storage', type: 'scitoken', token: await site.storageToken('alice', 600) }]);
    await job('outlive-c-cred', 'bob', `echo "started as $(id -un); sleeping ${DEMO_LONG_JOB_SECONDS} s, past the first C-CRED"; sleep ${DEMO_LONG_JOB_SECONDS}; echo done`);
    if (setuid) await job('as-nobody', 'alice', 'echo "id: $(id)"; if cat /etc/shadow >/dev/null 2>&1; then echo "can read /etc/shadow (BAD)"; else echo "cannot read /etc/shadow: root was dropped"; fi');

    // 4. The pilot.
    const work = join(root, 'work');
    mkdirSync(work, { mode: 0o711 });
    const onEvent = (e: PilotEvent) => {
      switch (e.type) {
        case 'started':
          out(`${elapsed()} pilot started in ${e.workdir} (trust: ${e.trust})`);
          break;
        case 'validation':
          out(`${elapsed()} node validation:`);
          out(e.outcome.table.replace(/^/gm, '    ').trimEnd());
          break;
        case 'refresh': {
          const ev = e.event;
          if (ev.type === 'refreshed') {
            refreshesShown++;
            const parts = ev.credentials.map((c) => `${c.purpose} ${c.type} until ${c.expiresAt === null ? 'never' : clockTime(c.expiresAt)}`);
            out(`${elapsed()} refresh #${refreshesShown} (${ev.durationMs} ms): ${parts.join(', ')}${ev.nextInMs === null ? '' : `; next in ${(ev.nextInMs / 1000).toFixed(1)} s`}`);
          } else if (ev.type === 'refresh-failed') {
            out(`${elapsed()} refresh failed: ${ev.error}${ev.retryInMs === null ? '' : `; retry in ${(ev.retryInMs / 1000).toFixed(1)} s`}`);
          } else {
            out(`${elapsed()} C-CRED expired at ${clockTime(ev.expiredAt)}: draining`);
          }
          break;
        }
        case 'job-start':
          out(`${elapsed()} job ${e.name} started`);
          break;
        case 'job-end': {
          const r = e.result;
          out(`${elapsed()} job ${e.name} ${r.state} (exit ${r.exitCode ?? '-'}, uid ${r.uid ?? '-'}, ${(r.durationMs / 1000).toFixed(1)} s)${r.reason ? ': ' + r.reason : ''}`);
          for (const f of [`${e.name}.out`, `${e.name}.err`]) {
            const p = join(outDir, f);
            if (existsSync(p)) {
              const text = readFileSync(p, 'utf8').trimEnd();
              if (text) out(text.replace(/^/gm, '      | '));
            }
          }
          break;
        }
        case 'state':
          if (e.state === 'draining') out(`${elapsed()} pilot draining (${e.reason ?? ''})`);
          break;
      }
    };
    const idtokenName = () => {
      try {
        return (decodeJwtUnverified(wire.credentials[0]!['token'] as string).claims['sub'] as string) ?? '';
      } catch {
        return '';
      }
    };
    out(`C-CRED identity: ${idtokenName()}`);
    summary = await runPilot({
      bundlePath,
      workdir: work,
      source: new SpoolSource({ dir: spool, idleTimeoutS: 3, makeLaunch: makeSandboxLaunch(policy), pollMs: 250 }),
      failureDelayS: 0,
      keepWorkdir: false,
      heartbeatIntervalS: 10,
      killGraceS: policy.killGraceSeconds,
      env: io.env,
      log: io.log,
      signal: io.signal,
      validate: makeValidate(io.signal),
      onEvent,
    });
  } finally {
    await service?.close().catch(() => undefined);
    rmSync(root, { recursive: true, force: true, maxRetries: 2 });
  }
  const leftBehind = existsSync(root);
  const durationMs = Date.now() - t0;
  const j = summary!.jobs;
  out();
  out('summary');
  out(`  pilot ended:   ${summary!.reason} (exit ${summary!.exitCode}) after ${(summary!.durationMs / 1000).toFixed(1)} s`);
  out(`  validation:    ${summary!.validation}`);
  out(`  jobs:          ${j.started} started, ${j.completed} completed, ${j.failed} failed, ${j.held} held, ${j.killed} killed`);
  out(`  refreshes:     ${summary!.refreshes} (${summary!.refreshFailures} failed)`);
  out(`  heartbeats:    ${summary!.heartbeats.sent} sent, ${summary!.heartbeats.failed} failed`);
  out(`  left behind:   ${leftBehind ? `${root} (NOT removed)` : 'nothing (service closed, temporary files removed)'}`);
  out(`  demo run time: ${(durationMs / 1000).toFixed(1)} s`);
  const ok = summary!.exitCode === 0 && j.completed === j.started && j.started > 0 && !leftBehind;
  return { exitCode: ok ? 0 : 1, summary, refreshesShown, durationMs, leftBehind };
}

/** The demo's own quiet logger: warnings and errors only, so the story stays readable. */
export function demoLogger(stderr: NodeJS.WritableStream, format: 'human' | 'json'): Logger {
  return createLogger({ format, level: 'warn', sink: stderr });
}
