// The private HTCondor config of `glidein run --condor` (issue 14, item 2), generated from the
// bundle and the validation report. Two files: `condor_config` (written once) and
// `glidein-state.config` (START's inputs: retired, refused jobs and users), rewritten on
// retire or refusal and followed by SIGHUP to the master. No POOL signing key is ever named:
// a process that can read one can mint its own tokens.
import { INVENTORY_FILE, renderGpuInventory } from './gpu-inventory.ts';
import { join } from 'node:path';
import { GlideinError } from '../../shared/errors.ts';
import type { CondorInstall } from './discover.ts';
import type { FactoryConfig } from './factory-config.ts';
import { ATTRIBUTE_NAME, classAdValue, configLines, configPath, unsafeValueReason } from './config-values.ts';
import { parameterEnv } from '../pilot/bundle-parameters.ts';
import { glideinWmsEntries, siteWms, type GlideinWmsIdentity, type SiteWms } from './glideinwms-attrs.ts';

/** The parts of the validation report the config uses (DESIGN.md section 5). */
export interface ConfigValidation {
  status: string;
  checks: readonly { name: string; status: string; value?: unknown; detail?: string; failure?: string | null }[];
  attributes?: Readonly<Record<string, unknown>>;
}

export interface CondorDirs {
  /** <workdir>/condor: the config files and the job wrapper's launcher. */
  root: string;
  local: string;
  log: string;
  execute: string;
  spool: string;
  lock: string;
  run: string;
}

export interface CondorConfigInput {
  install: CondorInstall;
  dirs: CondorDirs;
  glideinId: string;
  entry: string;
  site: string;
  trustDomain: string;
  collectors: readonly string[];
  ccb: boolean;
  tokenDir: string;
  wrapperPath: string;
  /** The prepare-job hook's launcher (holds a job whose identity is refused here). */
  prepareHookPath: string;
  idleTimeoutS: number;
  /** Unix seconds: when the glidein stops taking jobs and when it ends. */
  toRetire: number;
  toDie: number;
  validation: ConfigValidation;
  factory: FactoryConfig;
  /** The bundle's entry parameters, advertised as GLIDEIN_<name> (issue 15; validation's attributes win). */
  parameters?: Readonly<Record<string, string>>;
  /** The bundle's `glideinwms` field: GLIDEIN_Factory, GLIDEIN_Name, GLIDECLIENT_* … (issue 24 section 4). */
  glideinwms?: GlideinWmsIdentity;
  /** The batch system's job (GLIDEIN_SiteWMS*); default: Unknown throughout. */
  siteWms?: SiteWms;
  /** Unix seconds the pilot started (GLIDEIN_Max_Walltime = toDie - startTime); default now. */
  startTime?: number;
}

export interface CondorState {
  retired: boolean;
  /** GlobalJobId values this slot refuses (a permanent launch error here). */
  refusedJobs: readonly string[];
  /** Job `User` values (submitter identities) this slot refuses. */
  refusedUsers: readonly string[];
}

export const STATE_FILE = 'glidein-state.config';
export const CONFIG_FILE = 'condor_config';

export function condorDirs(workdir: string): CondorDirs {
  const root = join(workdir, 'condor');
  const local = join(root, 'local');
  return { root, local, log: join(local, 'log'), execute: join(local, 'execute'), spool: join(local, 'spool'), lock: join(local, 'lock'), run: join(local, 'run') };
}

/** A daemon name unique to this glidein (its id; '@' and ':' would confuse HTCondor's name@host). */
export function daemonName(glideinId: string): string {
  return `glidein_${glideinId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

function checkValue(report: ConfigValidation, name: string): unknown {
  return report.checks.find((c) => c.name === name)?.value;
}

function positiveInt(v: unknown, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 1 ? Math.floor(v) : dflt;
}

/** Resources from validation, not the host: cores, MiB of memory, KiB of disk, GPU ids. */
export function resources(report: ConfigValidation): { cpus: number; memoryMiB: number; diskKiB: number; gpus: string[] } {
  const detected = report.attributes?.['DetectedGPUs'];
  const gpus = typeof detected === 'string' ? detected.split(/[,\s]+/).filter((g) => /^(GPU|MIG)-[A-Za-z0-9-]+$/.test(g)) : [];
  return {
    cpus: positiveInt(checkValue(report, 'cores'), 1),
    memoryMiB: positiveInt(Number(checkValue(report, 'memory') ?? 0) / 1024 / 1024, 1),
    diskKiB: positiveInt(Number(checkValue(report, 'disk') ?? 0) / 1024, 1),
    gpus,
  };
}

/** Validation attributes as config entries; a name or value that cannot be written safely is left out. */
function validationAttributes(report: ConfigValidation): { entries: [string, string][]; skipped: string[] } {
  const entries: [string, string][] = [];
  const skipped: string[] = [];
  for (const [k, v] of Object.entries(report.attributes ?? {})) {
    // Nested GPU property ads reach the startd through its GPU inventory, not as slot attributes.
    if (typeof v === 'object' && v !== null) continue;
    const ok = ATTRIBUTE_NAME.test(k) && (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && unsafeValueReason(v) === null));
    if (ok) entries.push([k, classAdValue(v as string | number | boolean)]);
    else skipped.push(k);
  }
  return { entries, skipped };
}

/** The GPUs: the inventory (ids and property ads, gpu-inventory.ts) when validation gave one, else the bare ids. */
function gpuEntries(gpus: string[], c: CondorConfigInput): [string, string][] {
  if (renderGpuInventory(c.validation.attributes ?? {}) !== null) return [['MACHINE_RESOURCE_INVENTORY_GPUs', `/bin/cat ${configPath(join(c.dirs.root, INVENTORY_FILE), 'GPU inventory')}`]];
  return gpus.length ? [['MACHINE_RESOURCE_GPUS', gpus.join(', ')]] : [];
}

/** The failure as attributes, so the VO sees why a drained slot is unusable (anti-black-hole). */
function validationStatusEntries(report: ConfigValidation): [string, string][] {
  const failed = report.checks.filter((c) => c.status === 'fail');
  const safe = (s: string) => s.replace(/[\r\n\0$]/g, ' ').replace(/\\+\s*$/, '').slice(0, 1024);
  return [
    ['GLIDEIN_Validation_Status', classAdValue(report.status === 'OK' ? 'OK' : 'ERROR')],
    ['GLIDEIN_Validation_Failed_Checks', classAdValue(failed.map((c) => c.name).join(','))],
    ['GLIDEIN_Validation_Failure', classAdValue(safe(failed.find((c) => c.failure)?.failure ?? ''))],
    ['GLIDEIN_Validation_Detail', classAdValue(safe(failed.map((c) => `${c.name}: ${c.detail ?? ''}`).join('; ')))],
  ];
}

function installEntries(i: CondorInstall): [string, string][] {
  const out: [string, string][] = [];
  if (i.releaseDir) {
    out.push(['RELEASE_DIR', configPath(i.releaseDir, 'HTCondor release dir')]);
    out.push(['LIBEXEC', '$(RELEASE_DIR)/libexec']);
    out.push(['LIB', '$(RELEASE_DIR)/lib']);
  }
  out.push(['SBIN', configPath(i.sbin, 'HTCondor sbin dir')], ['BIN', configPath(i.bin, 'HTCondor bin dir')]);
  return out;
}

/** START: the factory's expression, a passed validation, not retired, and not a refused job or user. */
export const START_EXPRESSION =
  '($(GLIDEIN_Factory_Start)) && (MY.GLIDEIN_Validation_Status =?= "OK") && (MY.GLIDEIN_Retired =!= True)' +
  ' && (TARGET.GlobalJobId =?= UNDEFINED || !StringListMember(TARGET.GlobalJobId, MY.GLIDEIN_RefusedJobs))' +
  ' && (TARGET.User =?= UNDEFINED || !StringListMember(TARGET.User, MY.GLIDEIN_RefusedUsers))';

/** The main config file's text. `skipped` names validation attributes that could not be written. */
export function renderCondorConfig(c: CondorConfigInput): { text: string; skipped: string[] } {
  const d = c.dirs;
  const name = daemonName(c.glideinId);
  const res = resources(c.validation);
  const attrs = validationAttributes({ ...c.validation, attributes: { ...parameterEnv(c.parameters ?? {}), ...c.validation.attributes } });
  const identity = glideinWmsEntries({
    identity: c.glideinwms ?? {},
    entry: c.entry,
    site: c.site,
    glideinId: c.glideinId,
    startTime: c.startTime ?? Date.now() / 1000,
    toRetire: c.toRetire,
    toDie: c.toDie,
    siteWms: c.siteWms ?? siteWms({}, '', undefined),
  });
  const status = validationStatusEntries(c.validation);
  const advertised = [...identity, ...status, ...attrs.entries].map(([k]) => k);
  advertised.push('GLIDEIN_Retired', 'GLIDEIN_RefusedJobs', 'GLIDEIN_RefusedUsers', ...c.factory.attributes);
  const sections: string[] = [
    `# Written by glidein for glidein ${c.glideinId} (entry ${c.entry}); regenerated at every start, do not edit.\n`,
    '# The factory\'s extra settings first: everything below wins over them.\n' + (c.factory.entries.length ? configLines(c.factory.entries) : ''),
    '# Where HTCondor is and where it keeps its files (all under the pilot\'s work dir).\n' +
      configLines([
        ...installEntries(c.install),
        ['LOCAL_DIR', configPath(d.local, 'HTCondor local dir')],
        ['LOG', configPath(d.log, 'HTCondor log dir')],
        ['EXECUTE', configPath(d.execute, 'HTCondor execute dir')],
        ['SPOOL', configPath(d.spool, 'HTCondor spool dir')],
        ['LOCK', configPath(d.lock, 'HTCondor lock dir')],
        ['RUN', configPath(d.run, 'HTCondor run dir')],
        ['LOCAL_CONFIG_DIR', ''],
        ['LOCAL_CONFIG_FILE', configPath(join(d.root, STATE_FILE), 'HTCondor state config')],
        ['DAEMON_LIST', 'MASTER, STARTD'],
        ['MASTER_NAME', name],
        ['STARTD_NAME', name],
        ['FILESYSTEM_DOMAIN', name],
        ['UID_DOMAIN', name],
        ['USE_SHARED_PORT', 'False'],
      ]),
    '# The pool: the bundle\'s collector, IDTOKENS only (the C-CRED in the store), integrity and encryption required.\n' +
      configLines([
        ['COLLECTOR_HOST', c.collectors.join(', ')],
        ...(c.ccb ? ([['CCB_ADDRESS', '$(COLLECTOR_HOST)']] as [string, string][]) : []),
        ['TRUST_DOMAIN', classAdSafe(c.trustDomain, 'trust domain')],
        ['SEC_TOKEN_DIRECTORY', configPath(c.tokenDir, 'token directory')],
        ['SEC_DEFAULT_AUTHENTICATION', 'REQUIRED'],
        ['SEC_DEFAULT_AUTHENTICATION_METHODS', 'IDTOKENS'],
        ['SEC_CLIENT_AUTHENTICATION_METHODS', 'IDTOKENS'],
        ['SEC_DEFAULT_INTEGRITY', 'REQUIRED'],
        ['SEC_DEFAULT_ENCRYPTION', 'REQUIRED'],
      ]),
    '# Resources from the agent\'s validation, one partitionable slot; HTCondor\'s own GPU discovery off.\n' +
      configLines([
        ['NUM_CPUS', String(res.cpus)],
        ['MEMORY', String(res.memoryMiB)],
        ['DISK', String(res.diskKiB)],
        ['STARTD_DETECT_GPUS', 'false'],
        ...gpuEntries(res.gpus, c),
        ['NUM_SLOTS', '1'],
        ['NUM_SLOTS_TYPE_1', '1'],
        ['SLOT_TYPE_1', '100%'],
        ['SLOT_TYPE_1_PARTITIONABLE', 'True'],
      ]),
    '# What the slot advertises.\n' + configLines([...identity, ...status, ...attrs.entries, ['STARTD_ATTRS', advertised.join(', ')]]),
    '# Policy: jobs run through glidein\'s job wrapper; the startd leaves when idle; the master leaves with it.\n' +
      configLines([
        ['GLIDEIN_Factory_Start', c.factory.start ?? 'True'],
        ['START', START_EXPRESSION],
        ['USER_JOB_WRAPPER', configPath(c.wrapperPath, 'job wrapper')],
        // The site's hook keyword, not the job's (a job's HookKeyword cannot skip it).
        ['STARTER_JOB_HOOK_KEYWORD', 'GLIDEIN'],
        ['GLIDEIN_HOOK_PREPARE_JOB', configPath(c.prepareHookPath, 'prepare-job hook')],
        ['STARTD_NOCLAIM_SHUTDOWN', String(c.idleTimeoutS)],
        ['STARTD.DAEMON_SHUTDOWN', '(MY.GLIDEIN_Retired =?= True) && (TotalSlots =?= 1)'],
        ['MASTER.DAEMON_SHUTDOWN_FAST', '(STARTD_StartTime =?= 0) && ((time() - DaemonStartTime) > 60)'],
      ]),
  ];
  return { text: sections.join('\n'), skipped: attrs.skipped };
}

function classAdSafe(v: string, what: string): string {
  const why = unsafeValueReason(v) ?? (/\s/.test(v) ? 'contains white space' : null);
  if (why) throw new GlideinError('GLIDEIN_ERR_BUNDLE', `--condor: the ${what} ${JSON.stringify(v)} ${why}`);
  return v;
}

/** The state file: START's inputs that change while the glidein runs. */
export function renderCondorState(s: CondorState): string {
  const list = (xs: readonly string[]) => classAdValue(xs.filter((x) => /^[A-Za-z0-9@._#:+-]{1,256}$/.test(x)).join(', '));
  return (
    '# Written by glidein: START\'s inputs (retire, refused jobs and users); reread on SIGHUP.\n' +
    configLines([
      ['GLIDEIN_Retired', s.retired ? 'True' : 'False'],
      ['GLIDEIN_RefusedJobs', list(s.refusedJobs)],
      ['GLIDEIN_RefusedUsers', list(s.refusedUsers)],
    ])
  );
}
