// The startd attributes GlideinWMS frontends and factories count (issue 24 section 4), with
// GlideinWMS 3.11's names, types and meanings:
// - a frontend selects glideins with `(GLIDEIN_Factory=!=UNDEFINED)&&(GLIDEIN_Name=!=UNDEFINED)&&
//   (GLIDEIN_Entry_Name=!=UNDEFINED)` and its own by GLIDECLIENT_Name (frontend/glideinFrontendLib.py);
// - a factory matches its slots by `GLIDEIN_Factory =?= "F" && GLIDEIN_Name =?= "G" &&
//   GLIDEIN_Entry_Name =?= "E" && GLIDEIN_Client =?= "C"`, and a slot to its job by
//   GLIDEIN_Schedd/GLIDEIN_ClusterId/GLIDEIN_ProcId (factory/glideFactoryLib.py);
// - GLIDEIN_Name is the factory's glidein group (`-name`), not a pilot id: glidein's own per-pilot
//   id is GLIDEIN_Pilot_Id;
// - the batch system's job id, queue and slot are GLIDEIN_SiteWMS* (glidein_sitewms_setup.sh).
// The bundle field `glideinwms` carries what the factory knows (entry config and `register`).
import { readFileSync } from 'node:fs';
import { GlideinError } from '../../shared/errors.ts';
import { isSafeId } from '../../shared/protocol.ts';
import { classAdValue, unsafeValueReason } from './config-values.ts';

export interface GlideinWmsIdentity {
  /** GLIDEIN_Factory: the factory's name. */
  factory?: string;
  /** GLIDEIN_Name: the factory's glidein group (GlideinWMS `-name`). */
  name?: string;
  /** GLIDEIN_ResourceName (default: GLIDEIN_Site). */
  resourceName?: string;
  /** GLIDEIN_REQUIRED_OS (default `any`, as condor_vars.lst). */
  requiredOs?: string;
  /** GLIDECLIENT_Name and GLIDEIN_Client: the requesting client (GlideinWMS: `<frontend>.<group>`). */
  clientName?: string;
  /** GLIDECLIENT_Group: the frontend group. */
  clientGroup?: string;
  /** GLIDEIN_Schedd, GLIDEIN_ClusterId, GLIDEIN_ProcId: the factory's submission. */
  schedd?: string;
  clusterId?: number;
  procId?: number;
}

const STRING_FIELDS = { factory: 'factory', name: 'name', resource_name: 'resourceName', required_os: 'requiredOs', client_name: 'clientName', client_group: 'clientGroup', schedd: 'schedd' } as const;
const INT_FIELDS = { cluster_id: 'clusterId', proc_id: 'procId' } as const;

/** Bundle field `glideinwms`: an object of the keys above (snake case); GLIDEIN_ERR_BUNDLE naming the key otherwise. */
export function parseGlideinWmsIdentity(value: unknown, where: string): GlideinWmsIdentity {
  if (value === undefined || value === null) return {};
  const fail = (key: string, expected: string): never => {
    throw new GlideinError('GLIDEIN_ERR_BUNDLE', `${where}: glideinwms${key ? `.${key}` : ''}: expected ${expected}`);
  };
  if (typeof value !== 'object' || Array.isArray(value)) fail('', 'an object');
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k in STRING_FIELDS) {
      if (!isSafeId(v)) fail(k, 'letters, digits, and _.@:- (at most 128)');
      out[STRING_FIELDS[k as keyof typeof STRING_FIELDS]] = v as string;
    } else if (k in INT_FIELDS) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(k, 'a non-negative integer');
      out[INT_FIELDS[k as keyof typeof INT_FIELDS]] = v as number;
    } else fail(k, `one of ${[...Object.keys(STRING_FIELDS), ...Object.keys(INT_FIELDS)].join(', ')} (unknown key)`);
  }
  return out as GlideinWmsIdentity;
}

export interface SiteWms {
  GLIDEIN_SiteWMS: string;
  GLIDEIN_SiteWMS_JobId: string;
  GLIDEIN_SiteWMS_Queue: string;
  GLIDEIN_SiteWMS_Slot: string;
}

const UNKNOWN = 'Unknown';

/** `NAME = value` of an HTCondor job ad text (`_CONDOR_JOB_AD`), case-insensitive name; strings unquoted. */
function adValue(ad: string, name: string): string | undefined {
  const m = new RegExp(`^\\s*${name}\\s*=\\s*(.*?)\\s*$`, 'im').exec(ad);
  if (!m) return undefined;
  const v = m[1]!;
  return v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/**
 * The batch system this pilot runs under, as glidein_sitewms_setup.sh finds it: HTCondor
 * (`_CONDOR_JOB_AD` set), then SGE (`JOB_ID`), PBS, LSF, Slurm; `Unknown` for what is not known.
 * One difference: for Slurm the queue is SLURM_JOB_PARTITION (GlideinWMS leaves it Unknown).
 */
export function siteWms(env: NodeJS.ProcessEnv, hostname: string, jobAd: string | undefined): SiteWms {
  const out: SiteWms = { GLIDEIN_SiteWMS: UNKNOWN, GLIDEIN_SiteWMS_JobId: UNKNOWN, GLIDEIN_SiteWMS_Queue: UNKNOWN, GLIDEIN_SiteWMS_Slot: UNKNOWN };
  const set = (wms: string, jobId: string | undefined, queue: string | undefined) => {
    out.GLIDEIN_SiteWMS = wms;
    if (jobId) out.GLIDEIN_SiteWMS_JobId = jobId;
    if (queue) out.GLIDEIN_SiteWMS_Queue = queue;
  };
  if (env['_CONDOR_JOB_AD']) {
    const cluster = jobAd === undefined ? undefined : adValue(jobAd, 'ClusterId');
    const proc = jobAd === undefined ? undefined : adValue(jobAd, 'ProcId');
    const queue = jobAd === undefined ? undefined : adValue(jobAd, 'GlobalJobId')?.split('#')[0];
    set('HTCondor', cluster !== undefined && proc !== undefined ? `${cluster}.${proc}` : undefined, queue);
    out.GLIDEIN_SiteWMS_Slot = `${env['_CONDOR_SLOT'] || 'slot1'}@${hostname}`;
  } else if (env['JOB_ID']) set('SGE', env['JOB_ID'], env['QUEUE']);
  else if (env['PBS_JOBID']) set('PBS', env['PBS_JOBID'], env['PBS_QUEUE']);
  else if (env['LSB_JOBID']) set('LSF', env['LSB_JOBID'], env['LSB_QUEUE']);
  else if (env['SLURM_JOBID'] || env['SLURM_JOB_ID']) set('SLURM', env['SLURM_JOBID'] || env['SLURM_JOB_ID'], env['SLURM_JOB_PARTITION']);
  // Values from the environment go into the HTCondor config: anything unsafe there is Unknown.
  for (const k of Object.keys(out) as (keyof SiteWms)[]) if (unsafeValueReason(out[k]) !== null || out[k].length > 256) out[k] = UNKNOWN;
  return out;
}

/** The text of the job ad `_CONDOR_JOB_AD` names (the pilot as an HTCondor job), or undefined when there is none or it cannot be read. */
export function readJobAd(env: NodeJS.ProcessEnv): string | undefined {
  const path = env['_CONDOR_JOB_AD'];
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8').slice(0, 1024 * 1024);
  } catch {
    return undefined;
  }
}

export interface GlideinWmsAdInput {
  identity: GlideinWmsIdentity;
  entry: string;
  site: string;
  glideinId: string;
  /** Unix seconds. */
  startTime: number;
  toRetire: number;
  toDie: number;
  siteWms: SiteWms;
}

/** The config entries (NAME, HTCondor config value) of the GlideinWMS attributes; a name the factory did not set is left out. */
export function glideinWmsEntries(i: GlideinWmsAdInput): [string, string][] {
  const id = i.identity;
  const str = (name: string, v: string | undefined): [string, string][] => (v === undefined ? [] : [[name, classAdValue(v)]]);
  const int = (name: string, v: number | undefined): [string, string][] => (v === undefined ? [] : [[name, String(Math.floor(v))]]);
  return [
    ...str('GLIDEIN_Factory', id.factory),
    ...str('GLIDEIN_Name', id.name),
    ['GLIDEIN_Entry_Name', classAdValue(i.entry)],
    ['GLIDEIN_Site', classAdValue(i.site)],
    ['GLIDEIN_ResourceName', classAdValue(id.resourceName ?? i.site)],
    ...str('GLIDECLIENT_Name', id.clientName),
    ...str('GLIDEIN_Client', id.clientName),
    ...str('GLIDECLIENT_Group', id.clientGroup),
    ...str('GLIDEIN_Schedd', id.schedd),
    ...int('GLIDEIN_ClusterId', id.clusterId),
    ...int('GLIDEIN_ProcId', id.procId),
    ['IS_GLIDEIN', 'True'],
    // The master's name as the slot names carry it after their first '@' (countGlideinsCondorStatus).
    ['GLIDEIN_MASTER_NAME', '"$(MASTER_NAME)@$(FULL_HOSTNAME)"'],
    ['GLIDEIN_ToRetire', String(Math.floor(i.toRetire))],
    ['GLIDEIN_ToDie', String(Math.floor(i.toDie))],
    ['GLIDEIN_Expire', String(Math.floor(i.toDie))],
    ['DaemonStopTime', String(Math.floor(i.toDie))],
    ['GLIDEIN_Max_Walltime', String(Math.max(0, Math.floor(i.toDie - i.startTime)))],
    ['GLIDEIN_REQUIRED_OS', classAdValue(id.requiredOs ?? 'any')],
    ...(Object.entries(i.siteWms).map(([k, v]) => [k, classAdValue(v)]) as [string, string][]),
    ['GLIDEIN_Pilot_Id', classAdValue(i.glideinId)],
  ];
}
