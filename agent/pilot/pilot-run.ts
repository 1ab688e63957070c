// One pilot run, wired from its parts (DESIGN.md section 10): the credential store and the
// refresher (valid credentials first), the status reporter (heartbeats), node validation, the
// payload source (--spool, -- COMMAND, --condor) and the supervisor (end conditions). Each
// part has its own start and stop; this file only orders them.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { isGlideinError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { generateDpopKey, exportDpopKey, type DpopKey } from '../../shared/dpop.ts';
import type { Bundle } from '../../shared/protocol.ts';
import { CredStore, removeTree } from '../store/index.ts';
import type { WorkdirChoice } from './workdir.ts';
import { LOCK_FILE } from './workdir-lock.ts';
import { createHttpClient, type HttpClient } from './http-client.ts';
import { Refresher, PILOT_FILES } from './refresher.ts';
import { Endpoints } from './endpoints.ts';
import { StatusClient, type JobCounts, type PilotState, type StatusReport } from './status-client.ts';
import { sleep, type CancelTimer, type Clock } from './clock.ts';
import { awaitUsableCredentials, DEFAULT_MIN_USABLE_S } from './credentials-ready.ts';
import { removeRefreshSecrets } from './drain-secrets.ts';
import { scrubBundleRefreshToken } from './bundle-scrub.ts';
import { Supervisor, type PilotEnd } from './supervisor.ts';
import { emptyCounts, type PayloadContext, type PayloadStopReason } from './payload-source.ts';
import type { ValidationOutcome } from './validation.ts';
import { parameterEnv } from './bundle-parameters.ts';
import type { DrainRequest, PilotEvent, PilotOptions, PilotSummary } from './pilot-options.ts';
import { auditStatus } from '../audit/audit-sink.ts';
import { pilotScripts, withStartScripts } from './scripts/pilot-scripts.ts';
import type { VoScripts } from './scripts/vo-scripts.ts';
import type { ScriptRunResult } from './scripts/run-script.ts';
import { pilotFacts } from '../audit/pilot-facts.ts';

/** Grace of a fast drain (SIGQUIT): payloads get SIGTERM and, this long after, SIGKILL. */
export const FAST_DRAIN_GRACE_S = 2;
/** After validation, credentials with less validity than this are refreshed before payloads start. */
export const RECHECK_MIN_USABLE_S = 5;
/** Room left after the kill grace before the batch system's own kill (final report, wipe). */
export const BATCH_END_MARGIN_S = 15;
/**
 * A drain takes at most the kill grace plus this, whatever the network does (issue 26 item 3):
 * refreshes and heartbeats in flight are abandoned when it starts, and the final report gets
 * what is left of it, at most FINAL_REPORT_MAX_MS (Slurm's KillWait is 30 s; the grace 20 s).
 */
export const DRAIN_MARGIN_S = 5;
export const FINAL_REPORT_MAX_MS = 3_000;
/** The final report's least time, and what is kept back for the wipe after it. */
const FINAL_REPORT_MIN_MS = 500;
const WIPE_RESERVE_MS = 1_000;

interface Parts {
  store: CredStore;
  http: HttpClient;
  refresher: Refresher;
  status: StatusClient;
  key: DpopKey;
  endpoints: Endpoints;
}

function stopReason(end: PilotEnd): PayloadStopReason {
  if (end.reason === 'ccred-expired') return 'credential-expired';
  if (end.reason === 'max-lifetime' || end.reason === 'batch-end') return end.reason;
  return 'pilot-shutdown';
}

export class PilotRun {
  readonly #o: PilotOptions;
  readonly #bundle: Bundle;
  readonly #workdir: WorkdirChoice;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #started: number;
  readonly #timers: CancelTimer[] = [];
  readonly #drainController = new AbortController();
  /** Aborted when a drain starts: heartbeats and reports in flight are abandoned (the final report is not). */
  readonly #requests = new AbortController();
  /** When the drain began (a drain signal or another end), and the kill grace it gave the payloads. */
  #drainStartedAt: number | null = null;
  #drainGraceS = 0;
  readonly #onDrainSignal = () => this.#drainSignalled();
  readonly #supervisor: Supervisor;
  #parts: Partial<Parts> = {};
  #state: PilotState = 'starting';
  #result: PilotEnd = { code: 1, reason: 'signal' };
  #validation = 'not run';
  #readyMs: number | null = null;
  #jobs: JobCounts = emptyCounts();
  /** The entry's VO/factory scripts; null when the bundle lists none. */
  #scripts: VoScripts | null = null;

  constructor(o: PilotOptions, bundle: Bundle, workdir: WorkdirChoice, clock: Clock, log: Logger) {
    this.#o = o;
    this.#bundle = bundle;
    this.#workdir = workdir;
    this.#clock = clock;
    this.#log = log;
    this.#started = clock.now();
    this.#supervisor = new Supervisor({
      clock,
      log,
      lifetimeEndsAt: bundle.expiresAt,
      batchEnd: o.batchEnd,
      drainLeadS: o.killGraceS + BATCH_END_MARGIN_S,
      retireMarginS: o.retireMarginS,
      signal: o.signal,
      onRetire: (why) => {
        this.#setState('retiring', why);
        o.source.retire();
      },
    });
    if (o.signal.aborted) queueMicrotask(this.#onDrainSignal);
    else o.signal.addEventListener('abort', this.#onDrainSignal, { once: true });
  }

  /**
   * A drain signal at any stage abandons what is in flight at once (a refresh, a report), so
   * a service that accepts connections and never answers cannot hold the pilot for the HTTP
   * timeout. Before payloads (the first refresh, validation, the anti-black-hole delay) this is
   * the drain, and says so; with payloads, #drain does the rest and logs it.
   */
  #drainSignalled(): void {
    this.#drainStartedAt ??= this.#clock.now();
    this.#abandonRequests();
    if (this.#state === 'starting' || this.#state === 'validation-failed') {
      const request = this.#o.signal.reason as DrainRequest | undefined;
      this.#log.info('draining', { reason: 'signal', signal: request?.signal, stage: this.#state === 'starting' ? 'before payloads' : 'anti-black-hole delay' });
    }
  }

  /** No more refreshes, heartbeats or reports: those in flight are abandoned (the final report is its own). */
  #abandonRequests(): void {
    this.#parts.refresher?.close();
    this.#requests.abort();
  }

  #emit(e: PilotEvent): void {
    try {
      this.#o.onEvent?.(e);
    } catch (err) {
      this.#log.warn('event listener failed', { error: (err as Error).message });
    }
  }

  #setState(s: PilotState, reason?: string): void {
    this.#state = s;
    this.#emit({ type: 'state', state: s, ...(reason ? { reason } : {}) });
  }

  #report(extra: Partial<StatusReport> = {}): StatusReport {
    const r = this.#parts.refresher;
    return {
      glidein_id: this.#bundle.glideinId,
      entry: this.#bundle.entry,
      state: this.#state,
      ts: Math.floor(this.#clock.now() / 1000),
      jobs: { ...this.#jobs },
      refresh: { refreshes: r?.stats.refreshes ?? 0, failures: r?.stats.failures ?? 0, last_error: r?.stats.lastError ?? null },
      audit: auditStatus(),
      ...(this.#scripts ? { scripts: this.#scripts.rows() } : {}),
      ...extra,
    };
  }

  async execute(): Promise<PilotSummary> {
    try {
      const parts = await this.#setup();
      // The entry's scripts are fetched with the bound key: the binding refresh comes first then.
      if (!(await this.#validCredentials(parts, this.#bundle.scripts.length > 0 ? 'after-validation' : 'before-validation'))) return this.#summary();
      const outcome = await this.#validate(parts);
      this.#validation = outcome.report.status;
      this.#emit({ type: 'validation', outcome });
      // A drain signal during validation: an interrupted check is no verdict on the node.
      if (this.#o.signal.aborted) this.#result = { code: 0, reason: 'signal' };
      else if (!(await this.#validCredentials(parts, 'after-validation'))) return this.#summary();
      else if (outcome.report.status !== 'OK') await this.#validationFailed(parts, outcome);
      else await this.#runPayloads(parts, outcome);
      return this.#summary();
    } catch (e) {
      if (isGlideinError(e) && e.exitCode === 2) throw e;
      this.#log.error('pilot failed', { code: isGlideinError(e) ? e.code : 'GLIDEIN_ERR_INTERNAL', error: e });
      this.#result = { code: isGlideinError(e) ? e.exitCode : 1, reason: this.#result.reason };
      throw e;
    } finally {
      await this.#teardown();
    }
  }

  /** The node's checks, then (when they pass) the entry's validate and setup scripts. */
  async #validate(parts: Parts): Promise<ValidationOutcome> {
    const dir = this.#workdir.dir;
    const outcome = await this.#o.validate(this.#bundle.requirements, dir, { ...this.#o.env, ...parameterEnv(this.#bundle.parameters) }, this.#bundle.container.defaultImage);
    const { http, endpoints, key } = parts;
    const options = { bundle: this.#bundle, workdir: dir, env: this.#o.env, http, endpoints, key, clock: this.#clock, log: this.#log, account: this.#o.scriptAccount, signal: this.#requests.signal };
    this.#scripts = pilotScripts(options, outcome.report as Parameters<typeof pilotScripts>[1]);
    if (!this.#scripts || this.#o.signal.aborted) return outcome;
    return withStartScripts(this.#scripts, outcome, dir, this.#requests.signal);
  }

  /** A periodic script failed: no new work; the pilot ends (exit 1) once what runs is done. The
   * next heartbeat and the final report carry its row (one report in flight at a time). */
  #periodicFailed(r: ScriptRunResult): void {
    this.#log.error('a periodic script failed: retiring the pilot', { code: 'GLIDEIN_ERR_VALIDATION', script: r.name, outcome: r.outcome, failure: r.failure, detail: r.detail.slice(0, 200) });
    this.#supervisor.retire(`periodic script ${r.name} failed`, { reason: 'periodic-script-failed', code: 1 });
  }

  /** Store, node key, refresher (bundle token moved into the store), status reporter. */
  async #setup(): Promise<Parts> {
    const { bundle, log } = { bundle: this.#bundle, log: this.#log };
    const store = (this.#parts.store = await CredStore.open(this.#workdir.dir, { log }));
    const key = await generateDpopKey();
    // The private key stays on this node, 0600 in the store; only proofs leave it.
    await store.writePilot(PILOT_FILES.dpopKey, await exportDpopKey(key), bundle.expiresAt);
    await store.writePilot(PILOT_FILES.refreshUrl, bundle.refreshUrls.join('\n'), null);
    if (bundle.ca) await store.writePilot(PILOT_FILES.ca, bundle.ca, null);
    const http = (this.#parts.http = createHttpClient({ bundleCa: bundle.ca, env: this.#o.env }));
    this.#emit({ type: 'started', glideinId: bundle.glideinId, entry: bundle.entry, workdir: this.#workdir.dir, workdirSource: this.#workdir.source, trust: http.trust.source });
    const endpoints = new Endpoints(bundle.refreshUrls);
    const refresher = (this.#parts.refresher = new Refresher({
      bundle, key, store, http, endpoints, clock: this.#clock,
      log: log.child({ component: 'refresher' }),
      ...(this.#o.random ? { random: this.#o.random } : {}),
      ...(this.#o.retry ? { retry: this.#o.retry } : {}),
      onEvent: (event) => {
        this.#emit({ type: 'refresh', event });
        if (event.type === 'ccred-expired') this.#supervisor.end('ccred-expired', 1);
        if (event.type === 'store-failed') this.#supervisor.end(event.reason, 1);
      },
    }));
    await refresher.install();
    await scrubBundleRefreshToken(this.#o.bundlePath, Math.floor(this.#clock.now() / 1000), log);
    const status = (this.#parts.status = new StatusClient({ endpoints, key, http, log, clock: this.#clock }));
    return { store, http, refresher, status, key, endpoints };
  }

  /**
   * Valid credentials before validation and payloads; false when the pilot must end. Before
   * validation only a stale bundle refreshes (expired or too short-lived: refresh first); after
   * it comes the binding refresh if none happened yet, so the credentials are fresh when
   * payloads start, or a new one when validation outlasted the credentials.
   */
  async #validCredentials(parts: Parts, when: 'before-validation' | 'after-validation'): Promise<boolean> {
    const minUsableS = this.#o.minUsableS ?? DEFAULT_MIN_USABLE_S;
    const { refresher } = parts;
    const usableMs = refresher.usableForMs();
    const needed = when === 'before-validation' ? usableMs < minUsableS * 1000 : refresher.stats.refreshes === 0 || usableMs < RECHECK_MIN_USABLE_S * 1000;
    if (!needed) {
      this.#readyMs ??= this.#clock.now() - this.#started;
      return true;
    }
    return this.#credentialsReady(parts, refresher.stats.refreshes === 0 ? minUsableS : RECHECK_MIN_USABLE_S);
  }

  async #credentialsReady(parts: Parts, minUsableS: number): Promise<boolean> {
    const ready = await awaitUsableCredentials({
      refresher: parts.refresher,
      clock: this.#clock,
      log: this.#log,
      familyExpiresAt: this.#bundle.expiresAt,
      minUsableS,
      signal: this.#o.signal,
    });
    if (ready.ok) {
      this.#readyMs ??= this.#clock.now() - this.#started;
      this.#log.info('credentials valid', { afterMs: this.#readyMs, refreshed: ready.refreshed });
      return true;
    }
    if (ready.why === 'aborted') {
      this.#result = { code: 0, reason: 'signal' };
    } else if (ready.why === 'bundle-of-another-pilot' || ready.why === 'refresh-url-not-found') {
      // A bad bundle (exit 2, as for one already used): retrying cannot help.
      this.#result = { code: 2, reason: ready.why };
      this.#log.error(ready.message, { code: 'GLIDEIN_ERR_BUNDLE' });
    } else if (ready.why === 'store-failed') {
      // Logged at error level by the refresher, naming the dir.
      this.#result = { code: 1, reason: parts.refresher.storeFailure?.reason ?? 'store-unwritable' };
    } else {
      this.#result = { code: 1, reason: 'credentials-unobtainable' };
      this.#log.error(ready.message, { code: 'GLIDEIN_ERR_REFRESH' });
    }
    return false;
  }

  async #validationFailed(parts: Parts, outcome: ValidationOutcome): Promise<void> {
    this.#setState('validation-failed');
    this.#log.error('node validation failed', { code: 'GLIDEIN_ERR_VALIDATION', failed: outcome.report.checks.filter((c) => c.status === 'fail').map((c) => c.name) });
    await parts.status.post(this.#report({ validation: { status: outcome.report.status, json: outcome.report, xml: outcome.xml } }), { signal: this.#requests.signal });
    if (this.#o.failureDelayS > 0) {
      // GlideinWMS keeps a failed pilot around (~20 min) so the batch system does not feed the
      // same broken node pilot after pilot (the "black hole").
      this.#log.info('staying for the anti-black-hole delay', { seconds: this.#o.failureDelayS });
      const source = this.#o.source;
      const drained = source.startDrained?.(this.#payloadContext(parts, outcome)).then(
        () => true,
        (e: unknown) => (this.#log.warn('could not advertise the drained node', { error: (e as Error).message }), false),
      );
      await sleep(this.#clock, this.#o.failureDelayS * 1000, this.#o.signal);
      if (drained) {
        await drained;
        await source.stop('pilot-shutdown', this.#o.killGraceS);
      }
    }
    this.#result = { code: 1, reason: 'validation-failed' };
  }

  async #runPayloads(parts: Parts, outcome: ValidationOutcome): Promise<void> {
    const { refresher, status } = parts;
    refresher.start();
    this.#setState('running');
    await status.post(this.#report({ validation: { status: outcome.report.status, json: outcome.report, xml: outcome.xml } }), { signal: this.#requests.signal });
    // One heartbeat at a time: against a service that does not answer, piled-up heartbeats
    // would take every connection of the client's pool and queue the refresh behind them.
    let beating = false;
    const heartbeat = () => {
      this.#jobs = this.#o.source.counts();
      if (!beating) {
        beating = true;
        void status.post(this.#report(), { signal: this.#requests.signal }).finally(() => (beating = false));
      }
      this.#timers.push(this.#clock.setTimer(heartbeat, this.#o.heartbeatIntervalS * 1000));
    };
    if (this.#o.heartbeatIntervalS > 0) this.#timers.push(this.#clock.setTimer(heartbeat, this.#o.heartbeatIntervalS * 1000));
    if (refresher.ccredExpired) this.#supervisor.end('ccred-expired', 1);
    this.#supervisor.start(this.#o.source);
    if (!this.#supervisor.endedWith) await this.#o.source.start(this.#payloadContext(parts, outcome));
    if (!this.#supervisor.endedWith) this.#scripts?.startPeriodic((r) => this.#periodicFailed(r));
    this.#result = await this.#supervisor.ended;
    await this.#drain(parts, this.#result);
    if (this.#result.reason === 'container-runtime-failed' && this.#o.failureDelayS > 0) {
      // A broken runtime would fail every container job sent here: stay, as after a failed
      // validation, so the batch system does not feed this node pilot after pilot.
      this.#log.info('staying for the anti-black-hole delay', { seconds: this.#o.failureDelayS, reason: this.#result.reason });
      await sleep(this.#clock, this.#o.failureDelayS * 1000, this.#o.signal);
    }
  }

  #payloadContext(parts: Parts, outcome: ValidationOutcome): PayloadContext {
    const refresher = parts.refresher;
    return {
      workdir: this.#workdir.dir,
      env: this.#o.env,
      store: parts.store,
      log: this.#log,
      clock: this.#clock,
      validation: outcome.report,
      container: this.#bundle.container,
      pilot: pilotFacts(this.#bundle, this.#o.env),
      credentials: () => refresher.credentials(),
      signal: this.#drainController.signal,
      onJobStart: (name) => {
        this.#jobs = this.#o.source.counts();
        this.#emit({ type: 'job-start', name });
      },
      onJobEnd: (name, result) => {
        this.#jobs = this.#o.source.counts();
        this.#emit({ type: 'job-end', name, result });
        if (result.state !== 'completed' && result.launchError?.code === 'CONTAINER_RUNTIME_FAILED') {
          this.#log.error('the container runtime failed on this node: a node problem; no more jobs here', { code: 'GLIDEIN_ERR_LAUNCH', job: name, error: result.launchError.message });
          this.#supervisor.end('container-runtime-failed', 1);
        }
      },
    };
  }

  /** Secrets off the disk first, then stop the payloads (fast when asked, even mid-drain). */
  async #drain(parts: Parts, end: PilotEnd): Promise<void> {
    this.#drainStartedAt ??= this.#clock.now();
    this.#setState('draining', end.reason);
    this.#abandonRequests();
    this.#scripts?.stop();
    await removeRefreshSecrets(parts.store, this.#log);
    this.#drainController.abort();
    const source = this.#o.source;
    const reason = stopReason(end);
    const fastGrace = this.#o.fastKillGraceS ?? FAST_DRAIN_GRACE_S;
    const request = this.#o.signal.reason as DrainRequest | undefined;
    const fast = end.reason === 'signal' && (request?.fast === true || this.#o.fastDrain?.aborted === true);
    const graceS = fast ? Math.min(fastGrace, this.#o.killGraceS) : this.#o.killGraceS;
    this.#drainGraceS = graceS;
    this.#log.info('draining', { reason: end.reason, signal: request?.signal, graceS, fast });
    const fastLater = this.#o.fastDrain;
    const onFast = () => void source.stop(reason, Math.min(fastGrace, graceS));
    if (!fast) fastLater?.addEventListener('abort', onFast, { once: true });
    try {
      await source.stop(reason, graceS);
    } finally {
      fastLater?.removeEventListener('abort', onFast);
    }
    this.#jobs = source.counts();
  }

  async #teardown(): Promise<void> {
    for (const cancel of this.#timers.splice(0)) cancel();
    this.#supervisor.stop();
    this.#scripts?.stop();
    this.#o.signal.removeEventListener('abort', this.#onDrainSignal);
    const { refresher, status, http, store } = this.#parts;
    this.#abandonRequests();
    this.#drainController.abort();
    if (status && this.#state !== 'validation-failed') {
      this.#state = 'exited';
      await status.post(this.#report({ exit: { code: this.#result.code, reason: this.#result.reason } }), { timeoutMs: this.#finalReportMs() });
    }
    this.#state = 'exited';
    await http?.close();
    try {
      await store?.wipeAll();
    } catch (e) {
      this.#log.error('could not wipe the credential store', { error: e });
    }
    if (this.#o.keepWorkdir) rmSync(join(this.#workdir.dir, LOCK_FILE), { force: true });
    else {
      try {
        // Not a path-based recursive rm: if the store wipe failed, a job dir of a live payload is still in it.
        await removeTree(this.#workdir.dir);
      } catch (e) {
        this.#log.error('could not remove the work dir', { dir: this.#workdir.dir, error: e });
      }
    }
    const drain = this.#drainStartedAt === null ? {} : { drainMs: Math.round(this.#clock.now() - this.#drainStartedAt), drainLimitMs: this.#drainLimitMs() };
    this.#log.info('pilot exited', { code: this.#result.code, reason: this.#result.reason, jobs: this.#jobs, refreshes: refresher?.stats.refreshes ?? 0, ...drain });
  }

  /** The most a drain may take: the kill grace it gave plus DRAIN_MARGIN_S. */
  #drainLimitMs(): number {
    return (this.#drainGraceS + DRAIN_MARGIN_S) * 1000;
  }

  /** What is left of the drain's limit for the final report (less the wipe's share), within bounds. */
  #finalReportMs(): number {
    if (this.#drainStartedAt === null) return FINAL_REPORT_MAX_MS;
    const left = this.#drainStartedAt + this.#drainLimitMs() - WIPE_RESERVE_MS - this.#clock.now();
    return Math.round(Math.min(FINAL_REPORT_MAX_MS, Math.max(FINAL_REPORT_MIN_MS, left)));
  }

  #summary(): PilotSummary {
    const { refresher, status } = this.#parts;
    return {
      exitCode: this.#result.code,
      reason: this.#result.reason,
      glideinId: this.#bundle.glideinId,
      jobs: { ...this.#jobs },
      refreshes: refresher?.stats.refreshes ?? 0,
      refreshFailures: refresher?.stats.failures ?? 0,
      heartbeats: { sent: status?.stats.sent ?? 0, failed: status?.stats.failed ?? 0 },
      validation: this.#validation,
      workdir: this.#workdir.dir,
      durationMs: this.#clock.now() - this.#started,
      credentialsReadyMs: this.#readyMs,
      ...(this.#o.source.summary ? { payload: this.#o.source.summary() } : {}),
    };
  }
}
