// `glidein run -- COMMAND [ARG...]` as a payload source: one command as the pilot's own identity,
// told where its credentials are (paths only; the files are refreshed in place).
import { emptyCounts, type PayloadContext, type PayloadEnd, type PayloadSource, type PayloadStopReason } from './payload-source.ts';
import { startCommand, type CommandOutcome, type CommandPayload } from './command-payload.ts';
import type { JobCounts } from './status-client.ts';
import type { CredStore } from '../store/index.ts';
import type { Credential } from '../../shared/credential.ts';
import type { ContainerPolicy } from '../sandbox/container-policy.ts';
import { commandContainer } from './command-container.ts';
import type { AuditPolicy } from '../audit/audit-policy.ts';
import { CommandAudit } from '../audit/command-audit.ts';
import { validatedGpus } from './validation.ts';
import { gpuEnv } from '../sandbox/gpu-env.ts';

export class CommandSource implements PayloadSource {
  readonly kind = 'command';
  readonly done: Promise<PayloadEnd>;
  readonly #argv: string[];
  readonly #counts = emptyCounts();
  #resolve!: (e: PayloadEnd) => void;
  #payload: CommandPayload | undefined;
  #ctx: PayloadContext | undefined;
  #recorded = false;

  readonly #containers: ContainerPolicy | undefined;
  readonly #auditPolicy: AuditPolicy | undefined;
  #audited: Promise<void> = Promise.resolve();

  /** `containers`, `audit`: the site policy's container rules and audit destinations (--policy). */
  constructor(argv: string[], containers?: ContainerPolicy, audit?: AuditPolicy) {
    this.#argv = argv;
    this.#containers = containers;
    this.#auditPolicy = audit;
    this.done = new Promise((r) => (this.#resolve = r));
  }

  async start(ctx: PayloadContext): Promise<void> {
    this.#ctx = ctx;
    // The one command is the pilot's only job: it gets every GPU validation found (issue 23).
    const gpus = validatedGpus(ctx.validation);
    const extraEnv = { ...commandEnv(ctx.store, ctx.credentials(), ctx.workdir), ...(gpus.length ? gpuEnv(gpus) : {}) };
    const c = commandContainer({ argv: this.#argv, entry: ctx.container, policy: this.#containers, workdir: ctx.workdir, store: ctx.store, bearerFile: extraEnv['BEARER_TOKEN_FILE'] ?? null, env: ctx.env, gpus });
    if (c.kind === 'held') {
      this.#record({ exitCode: null, signal: null, launchError: c.error, killedFor: null });
      this.#resolve({ kind: 'launch-failed', error: c.error });
      return;
    }
    if (c.kind === 'container') ctx.log.info('the payload runs in a container', { runtime: c.runtime, image: c.image });
    this.#payload = startCommand({
      argv: c.kind === 'container' ? c.argv : this.#argv,
      cwd: c.kind === 'container' ? c.cwd : ctx.workdir,
      env: ctx.env,
      extraEnv: c.kind === 'container' ? c.env : extraEnv,
      log: ctx.log,
      clock: ctx.clock,
      ...(c.kind === 'container' ? { cleanEnv: true, statusFd: c.statusFd, argsPipe: c.argsPipe, insideOnly: c.runtime === 'bwrap' } : {}),
    });
    this.#counts.started++;
    this.#counts.running = 1;
    // The site's records (issue 25): the end is written before the pilot hears of it.
    const audit = this.#auditPolicy ? new CommandAudit(this.#auditPolicy, ctx.log, ctx.pilot ?? null, this.#argv[0]!) : null;
    if (audit && this.#payload.pid !== undefined) audit.started(this.#payload.pid);
    this.#audited = this.#payload.done.then(async (r) => {
      await audit?.ended(r);
      this.#resolve(r.launchError ? { kind: 'launch-failed', error: r.launchError } : { kind: 'command-exited', exitCode: r.exitCode });
    });
  }

  /** One command: nothing new to refuse; it keeps running until it exits or is stopped. */
  retire(): void {}

  /** A second call (a fast drain after a normal one) signals again and waits only its own grace. */
  async stop(reason: PayloadStopReason, graceS: number): Promise<void> {
    if (!this.#payload) return;
    const r = await this.#payload.stop(reason, graceS * 1000);
    this.#record(r);
    await this.#audited;
  }

  #record(r: CommandOutcome): void {
    if (this.#recorded) return;
    this.#recorded = true;
    const log = this.#ctx!.log;
    this.#counts.running = 0;
    if (r.launchError) {
      this.#counts.held++;
      log.error('the payload could not be started', { code: 'GLIDEIN_ERR_LAUNCH', error: r.launchError });
    } else if (r.killedFor) this.#counts.killed++;
    else if (r.exitCode === 0) this.#counts.completed++;
    else this.#counts.failed++;
    log.info('payload ended', { exitCode: r.exitCode, signal: r.signal, killedFor: r.killedFor });
  }

  counts(): JobCounts {
    return { ...this.#counts };
  }
}

/** What the `--` payload is told (paths only; the files are refreshed in place). */
export function commandEnv(store: CredStore, credentials: Credential[], workdir: string): Record<string, string> {
  const env: Record<string, string> = {
    _CONDOR_SEC_TOKEN_DIRECTORY: store.idtokenDir,
    GLIDEIN_WORKDIR: workdir,
    _CONDOR_SCRATCH_DIR: workdir,
  };
  const scred = credentials.find((c) => c.purpose === 'vo-service' && c.type !== 'idtoken');
  if (scred) env['BEARER_TOKEN_FILE'] = store.pilotPath(`cred-${scred.purpose}`);
  return env;
}
