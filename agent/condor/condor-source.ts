// `glidein run --condor [DIR]` as a payload source (issue 14): the node becomes a slot of the
// VO's pool. prepare() does every check that can be a caller mistake (exit 2) before anything
// is created: HTCondor found and recent enough, the bundle's collector and factory config, a
// C-CRED in the bundle. start() writes the private config, checks the C-CRED is in the store's
// token dir (a daemon decides once, at start, whether it has a token) and starts condor_master.
// retire() turns START false through the state config and the master's SIGHUP; refusals the job
// wrapper records do the same for one job and its submitter. stop() stops the master only.
import { INVENTORY_FILE, renderGpuInventory } from './gpu-inventory.ts';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, renameSync, chmodSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { GlideinError } from '../../shared/errors.ts';
import { decodeJwtUnverified } from '../../shared/jwt-decode.ts';
import { CONDOR_EXCLUDED_NAME } from '../store/cred-store.ts';
import { loadBundle } from '../pilot/bundle.ts';
import { emptyCounts, type PayloadContext, type PayloadEnd, type PayloadSource, type PayloadStopReason } from '../pilot/payload-source.ts';
import type { JobCounts } from '../pilot/status-client.ts';
import type { Policy } from '../sandbox/index.ts';
import { discoverCondor, type CondorInstall } from './discover.ts';
import { readCondorBundleFields, type CondorBundleFields } from './bundle-fields.ts';
import { checkFactoryConfig, type FactoryConfig } from './factory-config.ts';
import { CONFIG_FILE, STATE_FILE, condorDirs, daemonName, renderCondorConfig, renderCondorState, type CondorDirs, type CondorState } from './config.ts';
import { MasterProcess, type MasterExit } from './master.ts';
import { readJobAd, siteWms } from './glideinwms-attrs.ts';
import { installWrapper, takeWrapperEvents } from './wrapper-config.ts';
import { StartdLogWatch, exitedForGood, startdFinalState, type StartdFinal } from './startd-log.ts';
import { invalidateStartdAds } from './invalidate.ts';

export interface CondorSourceOptions {
  bundlePath: string;
  /** The DIR of `--condor DIR`, if given. */
  condorDir?: string | undefined;
  /** The site policy file (for the job wrapper), or undefined: jobs run as the pilot. */
  policyPath?: string | undefined;
  policy?: Policy | undefined;
  idleTimeoutS: number;
  env: NodeJS.ProcessEnv;
  /** How often the wrapper's events and the StartLog are read (ms). */
  pollMs?: number;
  /** After a failed collector update, how long until the reconfig that makes the startd authenticate again (ms). */
  rejoinDelayMs?: number;
}

interface Prepared {
  install: CondorInstall;
  fields: CondorBundleFields;
  factory: FactoryConfig;
  bundle: ReturnType<typeof loadBundle>;
}

/** Grace for the master's graceful shutdown once its startd has gone (nothing runs any more). */
const MASTER_STOP_GRACE_S = 30;
/** At most one rejoin reconfig this often, however often updates fail (a collector that stays down). */
const REJOIN_SPACING_MS = 60_000;

export class CondorSource implements PayloadSource {
  readonly kind = 'condor';
  readonly done: Promise<PayloadEnd>;
  readonly #o: CondorSourceOptions;
  readonly #p: Prepared;
  readonly #counts = emptyCounts();
  readonly #running = new Set<string>();
  readonly #state: { retired: boolean; refusedJobs: string[]; refusedUsers: string[] } = { retired: false, refusedJobs: [], refusedUsers: [] };
  #resolve!: (e: PayloadEnd) => void;
  #ctx: PayloadContext | undefined;
  #dirs: CondorDirs | undefined;
  #master: MasterProcess | undefined;
  #poll: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;
  /** Set once the agent stopped the master because the startd left for good. */
  #masterStopped = false;
  #invalidation: Promise<unknown> | undefined;
  #watch: StartdLogWatch | undefined;
  #rejoin: NodeJS.Timeout | undefined;
  #lastRejoin = 0;
  #final: { master: MasterExit | null; startd: StartdFinal | null } = { master: null, startd: null };

  private constructor(o: CondorSourceOptions, p: Prepared) {
    this.#o = o;
    this.#p = p;
    this.done = new Promise((r) => (this.#resolve = r));
  }

  /** Every check that can be a caller mistake, before anything is created (GLIDEIN_ERR_* exit 2). */
  static async prepare(o: CondorSourceOptions): Promise<CondorSource> {
    const bundle = loadBundle(o.bundlePath);
    const fields = await readCondorBundleFields(o.bundlePath);
    const factory = checkFactoryConfig(fields.condorConfig, `bundle ${o.bundlePath}`);
    if (!bundle.credentials.some((c) => c.purpose === 'collector' && c.type === 'idtoken')) {
      throw new GlideinError('GLIDEIN_ERR_BUNDLE', `bundle ${o.bundlePath}: --condor needs a C-CRED (an idtoken with purpose 'collector') to join the pool`);
    }
    if (o.policy?.identity === 'setuid') {
      throw new GlideinError('GLIDEIN_ERR_POLICY', `${o.policy.source}: identity 'setuid' cannot work under HTCondor (its starter never runs a job wrapper as root); use 'helper'`);
    }
    const install = await discoverCondor({ dir: o.condorDir, env: o.env });
    return new CondorSource(o, { install, fields, factory, bundle });
  }

  get install(): CondorInstall {
    return this.#p.install;
  }

  async start(ctx: PayloadContext): Promise<void> {
    this.#ctx = ctx;
    const log = ctx.log.child({ component: 'condor' });
    const { install, bundle } = this.#p;
    log.info('HTCondor found', { version: install.version, master: install.master, source: install.source });
    const dirs = (this.#dirs = condorDirs(ctx.workdir));
    // The job wrapper runs as the pilot (or, switched, reaches its sandbox through ACLs): traverse-only dirs.
    for (const d of [dirs.root, dirs.local, dirs.execute]) mkdirSync(d, { recursive: true, mode: 0o711 });
    for (const d of [dirs.log, dirs.spool, dirs.lock, dirs.run]) mkdirSync(d, { recursive: true, mode: 0o700 });
    for (const d of [dirs.root, dirs.local, dirs.execute]) chmodSync(d, 0o711);
    const launchers = installWrapper(dirs.root, {
      policy: this.#o.policyPath ?? null,
      storeParent: join(dirs.root, 'job-stores'),
      events: join(dirs.root, 'wrapper-events'),
      logFile: join(dirs.log, 'JobWrapperLog'),
      ...(ctx.container ? { container: ctx.container } : {}),
      ...(ctx.pilot ? { pilot: ctx.pilot } : {}),
    });
    if (!this.#o.policy || this.#o.policy.identity === 'none') log.warn('no identity switching configured: HTCondor jobs run as the pilot', { uid: process.getuid?.() });
    const lifetimeS = bundle.expiresAt - Date.now() / 1000;
    const { text, skipped } = renderCondorConfig({
      install,
      dirs,
      glideinId: bundle.glideinId,
      entry: bundle.entry,
      site: this.#p.fields.site ?? bundle.entry,
      trustDomain: bundle.trustDomain,
      collectors: this.#p.fields.collectors,
      ccb: this.#p.fields.ccb,
      tokenDir: ctx.store.idtokenDir,
      wrapperPath: launchers.wrapper,
      prepareHookPath: launchers.prepareHook,
      idleTimeoutS: this.#o.idleTimeoutS,
      toRetire: bundle.expiresAt - Math.min(600, Math.max(0, lifetimeS * 0.1)),
      toDie: bundle.expiresAt,
      validation: ctx.validation,
      factory: this.#p.factory,
      parameters: bundle.parameters,
      glideinwms: this.#p.fields.glideinwms,
      siteWms: siteWms(ctx.env, hostname(), readJobAd(ctx.env)),
    });
    if (skipped.length) log.warn('validation attributes not advertised (unsafe in an HTCondor config)', { names: skipped });
    const inventory = renderGpuInventory(ctx.validation.attributes ?? {});
    if (inventory !== null) writeAtomic(join(dirs.root, INVENTORY_FILE), inventory);
    writeAtomic(join(dirs.root, CONFIG_FILE), text);
    this.#writeState();
    this.#checkToken(ctx.store.idtokenDir);
    this.#master = await MasterProcess.start({ master: install.master, configFile: join(dirs.root, CONFIG_FILE), env: ctx.env, outputFile: join(dirs.log, 'master.out'), cwd: dirs.root, log });
    log.info('condor_master started', { pid: this.#master.pid, collector: this.#p.fields.collectors, name: bundle.glideinId });
    void this.#master.exited.then((e) => this.#onMasterExit(e));
    this.#poll = setInterval(() => this.#tick(), this.#o.pollMs ?? 1000);
    this.#poll.unref?.();
  }

  /** A failed validation: the startd still starts, with START = False and the failure as attributes. */
  startDrained(ctx: PayloadContext): Promise<void> {
    return this.start(ctx);
  }

  /**
   * The C-CRED must be there before the master starts: HTCondor decides once whether it has a
   * token. HTCondor takes the first file (sorted) whose issuer matches and never looks at `exp`,
   * so no other token of the same issuer may sort before the C-CRED's file.
   */
  #checkToken(dir: string): void {
    const names = existsSync(dir) ? readdirSync(dir).filter((n) => !CONDOR_EXCLUDED_NAME.test(n)).sort() : [];
    const issuerOf = (n: string): string | null => {
      try {
        const iss = decodeJwtUnverified(readFileSync(join(dir, n), 'utf8').trim()).claims['iss'];
        return typeof iss === 'string' ? iss : null;
      } catch {
        return null;
      }
    };
    const ccred = names.find((n) => n === 'glidein-collector') ?? names[0];
    if (ccred === undefined) throw new GlideinError('GLIDEIN_ERR_STATE', `--condor: no C-CRED in ${dir}; condor_master not started`);
    const iss = issuerOf(ccred);
    const shadowing = names.filter((n) => n < ccred && issuerOf(n) === iss);
    if (shadowing.length) throw new GlideinError('GLIDEIN_ERR_STATE', `--condor: ${shadowing.join(', ')} in ${dir} sorts before the C-CRED ${ccred} with the same issuer ${iss}; HTCondor would send that token to the collector`);
  }

  #writeState(): void {
    if (!this.#dirs) return;
    const s: CondorState = this.#state;
    writeAtomic(join(this.#dirs.root, STATE_FILE), renderCondorState(s));
  }

  #readEvents(): void {
    if (!this.#dirs) return;
    let changed = false;
    for (const e of takeWrapperEvents(join(this.#dirs.root, 'wrapper-events'))) {
      const key = e.key ?? '';
      if (e.event === 'start') {
        this.#counts.started++;
        this.#running.add(key);
        continue;
      }
      this.#running.delete(key);
      if (e.state === 'completed') this.#counts.completed++;
      else if (e.state === 'held') this.#counts.held++;
      else if (e.state === 'killed') this.#counts.killed++;
      else this.#counts.failed++;
      if (e.refuse?.job && !this.#state.refusedJobs.includes(e.refuse.job)) (this.#state.refusedJobs.push(e.refuse.job), (changed = true));
      if (e.refuse?.user && !this.#state.refusedUsers.includes(e.refuse.user)) (this.#state.refusedUsers.push(e.refuse.user), (changed = true));
      if (e.refuse) this.#ctx?.log.warn('HTCondor job refused here from now on', { job: e.refuse.job, user: e.refuse.user, reason: e.reason });
    }
    this.#counts.running = this.#running.size;
    if (changed) this.#reconfig();
  }

  #tick(): void {
    this.#readEvents();
    if (this.#stopping || this.#masterStopped || !this.#dirs || !this.#master) return;
    this.#watch ??= new StartdLogWatch(this.#dirs.log);
    const seen = this.#watch.poll();
    if (seen.updateFailed) this.#scheduleRejoin();
    if (!seen.leftForGood) return;
    // The startd is gone (retired and empty, or idle) and the master would not restart it: stop
    // the master now; its exit ends this source (retired-and-empty or idle-timeout).
    this.#masterStopped = true;
    this.#ctx?.log.info('the startd has left for good: stopping condor_master', { retired: this.#state.retired });
    void this.#master.stop(MASTER_STOP_GRACE_S, this.#state.retired ? 'retired-and-empty' : 'idle-timeout');
  }

  #reconfig(): void {
    this.#writeState();
    this.#master?.reconfig();
  }

  /** A reconfig makes the startd update the collector at once, authenticating afresh with the C-CRED. */
  #scheduleRejoin(): void {
    if (this.#rejoin || Date.now() - this.#lastRejoin < REJOIN_SPACING_MS) return;
    this.#rejoin = setTimeout(() => {
      this.#rejoin = undefined;
      this.#lastRejoin = Date.now();
      if (this.#stopping || this.#masterStopped) return;
      this.#ctx?.log.info('a collector update failed: reconfig so the startd authenticates again now, not at its next UPDATE_INTERVAL');
      this.#reconfig();
    }, this.#o.rejoinDelayMs ?? 10_000);
    this.#rejoin.unref?.();
  }

  /** START false: running jobs continue, no new ones match. */
  retire(): void {
    if (this.#state.retired) return;
    this.#state.retired = true;
    this.#ctx?.log.info('retiring the startd (START = False)');
    this.#reconfig();
  }

  /** After a startd that left through DAEMON_SHUTDOWN (exit 99), whose own invalidation may not have reached the collector. */
  #invalidateIfLeft(): Promise<unknown> {
    if (this.#invalidation) return this.#invalidation;
    if (!this.#dirs || !this.#ctx || !exitedForGood(this.#final.startd)) return Promise.resolve();
    const { root } = this.#dirs;
    this.#invalidation = invalidateStartdAds({ sbin: this.#p.install.sbin, bin: this.#p.install.bin, configFile: join(root, CONFIG_FILE), dir: root, daemon: daemonName(this.#p.bundle.glideinId), env: this.#ctx.env, log: this.#ctx.log.child({ component: 'condor' }) });
    return this.#invalidation;
  }

  #onMasterExit(e: MasterExit): void {
    if (this.#poll) clearInterval(this.#poll);
    if (this.#rejoin) clearTimeout(this.#rejoin);
    this.#readEvents();
    this.#final.master = e;
    this.#final.startd = this.#dirs ? startdFinalState(this.#dirs.log) : null;
    void this.#invalidateIfLeft();
    if (this.#stopping) return;
    if (e.spawnError) this.#resolve({ kind: 'launch-failed', error: e.spawnError });
    else if (this.#state.retired) this.#resolve({ kind: 'retired-and-empty' });
    else if (e.code === 0) this.#resolve({ kind: 'idle-timeout' });
    else this.#resolve({ kind: 'launch-failed', error: `condor_master exited with ${e.signal ?? `code ${e.code}`} (see ${this.#dirs?.log}/MasterLog)` });
  }

  stop(reason: PayloadStopReason, graceS: number): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#rejoin) clearTimeout(this.#rejoin);
      if (this.#master) await this.#master.stop(graceS, reason);
      if (this.#poll) clearInterval(this.#poll);
      this.#readEvents();
      this.#running.clear();
      this.#counts.running = 0;
      this.#final.startd = this.#dirs ? startdFinalState(this.#dirs.log) : null;
      // Before the store is wiped: condor_advertise authenticates with the C-CRED.
      await this.#invalidateIfLeft();
      this.#ctx?.log.info('HTCondor stopped', { reason, master: this.#final.master, startd: this.#final.startd });
    })();
    return this.#stopping;
  }

  counts(): JobCounts {
    return { ...this.#counts };
  }

  /** For the pilot's summary: HTCondor's version, the master's exit and the startd's last state. */
  summary(): { kind: 'condor'; version: string; master: MasterExit | null; startd: StartdFinal | null } {
    return { kind: 'condor', version: this.#p.install.version, ...this.#final };
  }
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, path);
}
