// The pilot lifecycle (DESIGN.md section 10): bundle → work dir → store → validation (report and
// anti-black-hole delay on failure) → first refresh (binds the DPoP key) → payloads (spool or
// one command) with heartbeats → retire / idle timeout / max lifetime / C-CRED expiry / SIGTERM
// drain → final report → wipe the store and the work dir.
import { rmSync, statSync } from 'node:fs';
import { GlideinError, isGlideinError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { generateDpopKey, exportDpopKey } from '../../shared/dpop.ts';
import type { Bundle } from '../../shared/protocol.ts';
import { CredStore } from '../store/index.ts';
import { loadBundle } from './bundle.ts';
import { selectWorkdir, type WorkdirChoice } from './workdir.ts';
import { createHttpClient, type HttpClient } from './http-client.ts';
import { Refresher, PILOT_FILES, type RefresherEvent, type RetryPolicy } from './refresher.ts';
import { StatusClient, type JobCounts, type PilotState, type StatusReport } from './status-client.ts';
import { Spool, type LaunchFn, type SpoolJobResult } from './spool.ts';
import { startCommand, type CommandPayload } from './command-payload.ts';
import { sleep, systemClock, type CancelTimer, type Clock } from './clock.ts';

/** The validation report of `glidein validate --format json` (DESIGN.md section 5). */
export interface ValidationReport {
  status: 'OK' | 'ERROR' | string;
  durationMs?: number;
  checks: { name: string; status: string; value?: unknown; detail?: string; failure?: string | null }[];
  attributes?: Record<string, unknown>;
}

export interface ValidationOutcome {
  report: ValidationReport;
  xml: string;
  table: string;
}

export type ValidateFn = (requirements: string[], workdir: string, env: NodeJS.ProcessEnv) => Promise<ValidationOutcome>;

export interface LaunchContext {
  store: CredStore;
  log: Logger;
  signal: AbortSignal;
  workdir: string;
  env: NodeJS.ProcessEnv;
}

export type PilotEndReason = 'idle-timeout' | 'command-exited' | 'signal' | 'max-lifetime' | 'ccred-expired' | 'validation-failed' | 'launch-failed';

export type PilotEvent =
  | { type: 'started'; glideinId: string; entry: string; workdir: string; workdirSource: string; trust: string }
  | { type: 'validation'; outcome: ValidationOutcome }
  | { type: 'refresh'; event: RefresherEvent }
  | { type: 'job-start'; name: string }
  | { type: 'job-end'; name: string; result: SpoolJobResult }
  | { type: 'state'; state: PilotState; reason?: string };

export interface PilotOptions {
  bundlePath: string;
  workdir?: string | undefined;
  spoolDir?: string | undefined;
  command?: string[] | undefined;
  idleTimeoutS: number;
  failureDelayS: number;
  keepWorkdir: boolean;
  heartbeatIntervalS: number;
  /** SIGTERM → SIGKILL grace for drains (the policy's killGraceSeconds). */
  killGraceS: number;
  env: NodeJS.ProcessEnv;
  log: Logger;
  signal: AbortSignal;
  validate: ValidateFn;
  /** Checks the bundle's requirement strings before anything is created (throws exit 2). */
  checkRequirements?: (items: string[], bundlePath: string) => void;
  /** Builds the spool's launcher (sandbox: parseJobSpec + startJob) once the store exists. */
  makeLaunch?: (ctx: LaunchContext) => LaunchFn | Promise<LaunchFn>;
  /** Number of spool slots; default the usable cores from validation. */
  slots?: number | undefined;
  clock?: Clock;
  random?: () => number;
  retry?: Partial<RetryPolicy>;
  minFreeBytes?: number;
  /** Stop taking new jobs this long before the bundle's maximum lifetime. */
  retireMarginS?: number;
  spoolPollMs?: number;
  onEvent?: (e: PilotEvent) => void;
}

export interface PilotSummary {
  exitCode: number;
  reason: PilotEndReason;
  glideinId: string;
  jobs: JobCounts;
  refreshes: number;
  refreshFailures: number;
  heartbeats: { sent: number; failed: number };
  validation: string;
  workdir: string;
  durationMs: number;
}

/** The usable cores from the validation report (the `cores` check's value). */
export function usableCores(report: ValidationReport): number | undefined {
  const v = report.checks.find((c) => c.name === 'cores')?.value;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

/** Run the pilot to the end. Configuration mistakes throw (exit 2); everything else is the summary. */
export async function runPilot(o: PilotOptions): Promise<PilotSummary> {
  const clock = o.clock ?? systemClock;
  const started = clock.now();
  const log = o.log.child({ component: 'pilot' });
  const emit = (e: PilotEvent) => {
    try {
      o.onEvent?.(e);
    } catch (err) {
      log.warn('event listener failed', { error: (err as Error).message });
    }
  };

  // Everything that can be a caller mistake is checked before anything is created.
  const bundle: Bundle = loadBundle(o.bundlePath, Math.floor(clock.now() / 1000));
  o.checkRequirements?.(bundle.requirements, o.bundlePath);
  if ((o.spoolDir === undefined) === (o.command === undefined || o.command.length === 0)) {
    throw new GlideinError('GLIDEIN_ERR_USAGE', 'run: give exactly one of --spool DIR or -- COMMAND [ARG...]');
  }
  if (o.spoolDir !== undefined) {
    let ok = false;
    try {
      ok = statSync(o.spoolDir).isDirectory();
    } catch {
      /* reported below */
    }
    if (!ok) throw new GlideinError('GLIDEIN_ERR_CONFIG', `run: --spool ${o.spoolDir} is not a directory`);
  }
  const workdir: WorkdirChoice = selectWorkdir({ flag: o.workdir, env: o.env, ...(o.minFreeBytes !== undefined ? { minFreeBytes: o.minFreeBytes } : {}) });
  const plog = log.child({ glideinId: bundle.glideinId });
  plog.info('pilot starting', { entry: bundle.entry, workdir: workdir.dir, workdirSource: workdir.source, expiresAt: bundle.expiresAt });

  const jobs: JobCounts = { started: 0, completed: 0, failed: 0, held: 0, killed: 0, running: 0 };
  let store: CredStore | undefined;
  let http: HttpClient | undefined;
  let refresher: Refresher | undefined;
  let status: StatusClient | undefined;
  let validationStatus = 'not run';
  let state: PilotState = 'starting';
  const timers: CancelTimer[] = [];
  const drainController = new AbortController();

  const report = (extra: Partial<StatusReport> = {}): StatusReport => ({
    glidein_id: bundle.glideinId,
    entry: bundle.entry,
    state,
    ts: Math.floor(clock.now() / 1000),
    jobs: { ...jobs },
    refresh: { refreshes: refresher?.stats.refreshes ?? 0, failures: refresher?.stats.failures ?? 0, last_error: refresher?.stats.lastError ?? null },
    ...extra,
  });
  const setState = (s: PilotState, reason?: string) => {
    state = s;
    emit({ type: 'state', state: s, ...(reason ? { reason } : {}) });
  };

  let result: { code: number; reason: PilotEndReason } = { code: 1, reason: 'signal' };
  // End conditions race; the first one wins.
  let resolveEnd!: (v: { code: number; reason: PilotEndReason }) => void;
  const ended = new Promise<{ code: number; reason: PilotEndReason }>((r) => (resolveEnd = r));
  let endedAlready = false;
  const end = (reason: PilotEndReason, code: number): void => {
    if (endedAlready) return;
    endedAlready = true;
    resolveEnd({ code, reason });
  };
  try {
    store = await CredStore.open(workdir.dir, { log: plog });
    const key = await generateDpopKey();
    // The private key stays on this node, 0600 in the store; only proofs leave it.
    await store.writePilot(PILOT_FILES.dpopKey, await exportDpopKey(key), bundle.expiresAt);
    await store.writePilot(PILOT_FILES.refreshUrl, bundle.refreshUrl, null);
    if (bundle.ca) await store.writePilot(PILOT_FILES.ca, bundle.ca, null);
    http = createHttpClient({ bundleCa: bundle.ca, env: o.env });
    emit({ type: 'started', glideinId: bundle.glideinId, entry: bundle.entry, workdir: workdir.dir, workdirSource: workdir.source, trust: http.trust.source });
    refresher = new Refresher({
      bundle,
      key,
      store,
      http,
      log: plog.child({ component: 'refresher' }),
      clock,
      ...(o.random ? { random: o.random } : {}),
      ...(o.retry ? { retry: o.retry } : {}),
      onEvent: (event) => {
        emit({ type: 'refresh', event });
        if (event.type === 'ccred-expired') end('ccred-expired', 1);
      },
    });
    await refresher.install();
    status = new StatusClient({ refreshUrl: bundle.refreshUrl, key, http, log: plog, clock });

    // Validation first: a node that cannot run payloads must not take any.
    const outcome = await o.validate(bundle.requirements, workdir.dir, o.env);
    validationStatus = outcome.report.status;
    emit({ type: 'validation', outcome });
    const validation = { status: outcome.report.status, json: outcome.report, xml: outcome.xml };

    // The first refresh binds the family to this node's key (and authenticates status reports).
    const first = await refresher.refresh();
    if (!first.ok) plog.warn('first refresh failed; continuing with the bundle credentials while they are valid', { error: first.error.message });

    if (outcome.report.status !== 'OK') {
      setState('validation-failed');
      plog.error('node validation failed', { code: 'GLIDEIN_ERR_VALIDATION', failed: outcome.report.checks.filter((c) => c.status === 'fail').map((c) => c.name) });
      await status.post(report({ validation }));
      if (o.failureDelayS > 0) {
        // GlideinWMS keeps a failed pilot around (~20 min) so the batch system does not feed the
        // same broken node pilot after pilot (the "black hole").
        plog.info('staying for the anti-black-hole delay', { seconds: o.failureDelayS });
        await sleep(clock, o.failureDelayS * 1000, o.signal);
      }
      result = { code: 1, reason: 'validation-failed' };
      return summary();
    }

    refresher.start();
    setState('running');
    await status.post(report({ validation }));
    const heartbeat = () => {
      void status!.post(report());
      timers.push(clock.setTimer(heartbeat, o.heartbeatIntervalS * 1000));
    };
    if (o.heartbeatIntervalS > 0) timers.push(clock.setTimer(heartbeat, o.heartbeatIntervalS * 1000));

    if (refresher.ccredExpired) end('ccred-expired', 1);
    const onSignal = () => end('signal', 0);
    if (o.signal.aborted) onSignal();
    o.signal.addEventListener('abort', onSignal, { once: true });

    const nowS = () => clock.now() / 1000;
    const lifetimeLeftS = bundle.expiresAt - nowS();
    const retireMarginS = o.retireMarginS ?? Math.min(600, Math.max(0, lifetimeLeftS * 0.1));
    timers.push(clock.setTimer(() => end('max-lifetime', 0), Math.max(0, lifetimeLeftS * 1000)));

    const graceMs = o.killGraceS * 1000;
    if (o.command && o.command.length > 0) {
      const payload: CommandPayload = startCommand({
        argv: o.command,
        cwd: workdir.dir,
        env: o.env,
        extraEnv: commandEnv(store, refresher, workdir.dir),
        log: plog,
        clock,
      });
      jobs.started++;
      jobs.running = 1;
      timers.push(clock.setTimer(() => setState('retiring', 'max lifetime near'), Math.max(0, (lifetimeLeftS - retireMarginS) * 1000)));
      void payload.done.then((r) => {
        if (r.launchError) end('launch-failed', 3);
        else end('command-exited', r.exitCode === 0 ? 0 : 1);
      });
      result = await ended;
      o.signal.removeEventListener('abort', onSignal);
      setState('draining', result.reason);
      const r = await payload.stop(result.reason === 'signal' ? 'pilot-shutdown' : result.reason === 'ccred-expired' ? 'credential-expired' : result.reason, graceMs);
      jobs.running = 0;
      if (r.launchError) {
        jobs.held++;
        plog.error('the payload could not be started', { code: 'GLIDEIN_ERR_LAUNCH', error: r.launchError });
      } else if (r.killedFor) jobs.killed++;
      else if (r.exitCode === 0) jobs.completed++;
      else jobs.failed++;
      plog.info('payload ended', { exitCode: r.exitCode, signal: r.signal, killedFor: r.killedFor });
    } else {
      const launch = await o.makeLaunch!({ store, log: plog, signal: drainController.signal, workdir: workdir.dir, env: o.env });
      const cores = usableCores(outcome.report);
      const slots = o.slots ?? cores ?? 1;
      const spool = new Spool({
        dir: o.spoolDir!,
        slots,
        launch,
        log: plog.child({ component: 'spool' }),
        clock,
        ...(o.spoolPollMs !== undefined ? { pollMs: o.spoolPollMs } : {}),
        onJobStart: (name) => {
          Object.assign(jobs, spool.counts);
          emit({ type: 'job-start', name });
        },
        onJobEnd: (name, r) => {
          Object.assign(jobs, spool.counts);
          emit({ type: 'job-end', name, result: r });
        },
      });
      plog.info('spool started', { dir: o.spoolDir, slots, idleTimeoutS: o.idleTimeoutS });
      spool.start();
      timers.push(clock.setTimer(() => {
        setState('retiring', 'max lifetime near');
        spool.stopAccepting();
      }, Math.max(0, (lifetimeLeftS - retireMarginS) * 1000)));
      // Idle timeout: no job running and none arrived for that long. Retired and empty also ends.
      const checkIdle = () => {
        if (spool.running === 0 && clock.now() - spool.lastActivity >= o.idleTimeoutS * 1000) end('idle-timeout', 0);
        else if (!spool.accepting && spool.running === 0 && state === 'retiring') end('max-lifetime', 0);
        else timers.push(clock.setTimer(checkIdle, 500));
      };
      timers.push(clock.setTimer(checkIdle, 500));
      result = await ended;
      o.signal.removeEventListener('abort', onSignal);
      setState('draining', result.reason);
      spool.stopAccepting();
      if (spool.running > 0) {
        plog.info('draining: stopping running jobs', { running: spool.running, reason: result.reason, graceS: o.killGraceS });
        spool.killAll(result.reason === 'signal' ? 'pilot-shutdown' : result.reason === 'ccred-expired' ? 'credential-expired' : 'pilot-shutdown');
        drainController.abort();
        await spool.idle();
      }
      Object.assign(jobs, spool.counts);
    }
    return summary();
  } catch (e) {
    if (isGlideinError(e) && e.exitCode === 2) throw e;
    plog.error('pilot failed', { code: isGlideinError(e) ? e.code : 'GLIDEIN_ERR_INTERNAL', error: e });
    result = { code: isGlideinError(e) ? e.exitCode : 1, reason: result.reason };
    throw e;
  } finally {
    for (const cancel of timers) cancel();
    refresher?.stop();
    drainController.abort();
    if (status && (state as PilotState) !== 'validation-failed') {
      const prev = state;
      state = 'exited';
      await status.post(report({ exit: { code: result.code, reason: result.reason } }));
      state = prev;
    }
    state = 'exited';
    await http?.close();
    try {
      await store?.wipeAll();
    } catch (e) {
      plog.error('could not wipe the credential store', { error: e });
    }
    if (!o.keepWorkdir) {
      try {
        rmSync(workdir.dir, { recursive: true, force: true, maxRetries: 2 });
      } catch (e) {
        plog.error('could not remove the work dir', { dir: workdir.dir, error: e });
      }
    }
    plog.info('pilot exited', { code: result.code, reason: result.reason, jobs, refreshes: refresher?.stats.refreshes ?? 0 });
  }

  function summary(): PilotSummary {
    return {
      exitCode: result.code,
      reason: result.reason,
      glideinId: bundle.glideinId,
      jobs: { ...jobs },
      refreshes: refresher?.stats.refreshes ?? 0,
      refreshFailures: refresher?.stats.failures ?? 0,
      heartbeats: { sent: status?.stats.sent ?? 0, failed: status?.stats.failed ?? 0 },
      validation: validationStatus,
      workdir: workdir.dir,
      durationMs: clock.now() - started,
    };
  }
}

/** What the `--` payload is told (paths only; the files are refreshed in place). */
function commandEnv(store: CredStore, refresher: Refresher, workdir: string): Record<string, string> {
  const env: Record<string, string> = {
    _CONDOR_SEC_TOKEN_DIRECTORY: store.idtokenDir,
    GLIDEIN_WORKDIR: workdir,
    _CONDOR_SCRATCH_DIR: workdir,
  };
  const scred = refresher.credentials().find((c) => c.purpose === 'vo-service' && c.type !== 'idtoken');
  if (scred) env['BEARER_TOKEN_FILE'] = store.pilotPath(`cred-${scred.purpose}`);
  return env;
}
