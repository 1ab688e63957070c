// The startd offers exactly the validated GPUs, with their nested properties (issue 23), checked
// against a real HTCondor: validation (the real validator, a stand-in nvidia-smi: no GPU here)
// → glidein's inventory file → a real condor_master, collector and startd reading it through
// MACHINE_RESOURCE_INVENTORY_GPUs → the slot ad from condor_status. HTCondor is not among the
// tools CI installs; this runs where a build is found (GLIDEIN_TEST_HTCONDOR=<its prefix>, or the
// private build at /opt/htc/inst) and says why it skips elsewhere.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runValidation } from '../../agent/validate/index.ts';
import { renderGpuInventory } from '../../agent/condor/gpu-inventory.ts';
import { IS_ROOT, ensureAccount, removeAccount } from '../helpers/accounts.ts';
import { freePort } from '../helpers/net.ts';
import { FIXTURES } from '../validate/fixture.ts';

const PREFIX = process.env['GLIDEIN_TEST_HTCONDOR'] ?? '/opt/htc/inst';
const HAVE = existsSync(join(PREFIX, 'sbin', 'condor_master')) && existsSync(join(PREFIX, 'bin', 'condor_status'));
const ACCOUNT = 'glgpuhtc';
let master: ChildProcess | undefined;
let dir: string | undefined;

afterAll(async () => {
  if (master?.pid) {
    try {
      process.kill(master.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 50 && master.exitCode === null && master.signalCode === null; i++) await sleep(100);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (IS_ROOT) removeAccount(ACCOUNT);
});

describe('the startd and the validated GPUs', () => {
  it.skipIf(!HAVE)('offers exactly the validated GPUs and publishes AvailableGPUs and their nested property ads (real HTCondor)', async () => {
    const report = await runValidation({ requirements: {}, workdir: tmpdir(), env: { ...process.env, PATH: `${join(FIXTURES, 'bin-gpu')}:/usr/bin:/bin`, CUDA_VISIBLE_DEVICES: '1' } });
    const inventory = renderGpuInventory(report.attributes);
    expect(inventory).not.toBeNull();
    dir = mkdtempSync(join(tmpdir(), 'glhtcgpu-'));
    for (const d of ['log', 'spool', 'lock', 'execute', 'run']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'gpus.inventory'), inventory!);
    const port = await freePort();
    const config = join(dir, 'condor_config');
    writeFileSync(config, [
      `RELEASE_DIR = ${PREFIX}`, 'BIN = $(RELEASE_DIR)/bin', 'SBIN = $(RELEASE_DIR)/sbin', 'LIBEXEC = $(RELEASE_DIR)/libexec', 'LIB = $(RELEASE_DIR)/lib',
      `LOCAL_DIR = ${dir}`, ...['LOG', 'SPOOL', 'LOCK', 'EXECUTE', 'RUN'].map((k) => `${k} = ${join(dir!, k.toLowerCase())}`),
      'DAEMON_LIST = MASTER, COLLECTOR, STARTD', `COLLECTOR_HOST = 127.0.0.1:${port}`, 'CONDOR_HOST = 127.0.0.1', 'NETWORK_INTERFACE = 127.0.0.1', 'USE_SHARED_PORT = False',
      'SEC_DEFAULT_AUTHENTICATION_METHODS = CLAIMTOBE', ...['READ', 'WRITE', 'ADMINISTRATOR', 'DAEMON', 'ADVERTISE_STARTD', 'ADVERTISE_MASTER'].map((p) => `ALLOW_${p} = *`),
      // What glidein's own config says for GPUs (agent/condor/config.ts).
      'STARTD_DETECT_GPUS = false', `MACHINE_RESOURCE_INVENTORY_GPUs = /bin/cat ${join(dir, 'gpus.inventory')}`,
      'NUM_CPUS = 1', 'NUM_SLOTS = 1', 'NUM_SLOTS_TYPE_1 = 1', 'SLOT_TYPE_1 = 100%', 'SLOT_TYPE_1_PARTITIONABLE = True', '',
    ].join('\n'));
    const env = { ...process.env, CONDOR_CONFIG: config };
    // HTCondor run by root wants a condor account; run the personal pool as an ordinary one.
    const argv = IS_ROOT ? ['runuser', '-u', ensureAccount(ACCOUNT).name, '--', join(PREFIX, 'sbin', 'condor_master'), '-f'] : [join(PREFIX, 'sbin', 'condor_master'), '-f'];
    if (IS_ROOT) {
      const { uid, gid } = ensureAccount(ACCOUNT);
      for (const e of ['', ...readdirSync(dir).map((n) => n)]) chownSync(join(dir, e), uid, gid);
    }
    master = spawn(argv[0]!, argv.slice(1), { env, stdio: 'ignore' });
    let ad = '';
    for (let i = 0; i < 600 && !/^AvailableGPUs/m.test(ad); i++) {
      await sleep(100);
      try {
        ad = execFileSync(join(PREFIX, 'bin', 'condor_status'), ['-l'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        ad = '';
      }
    }
    const lines = ad.split('\n');
    // CUDA_VISIBLE_DEVICES=1: the pilot may use GPU 1 of the node's two, and the startd offers that one only.
    expect(lines).toContain('GPUs = 1');
    expect(lines).toContain('DetectedGPUs = "GPU-b2e8a0f1"');
    expect(lines).toContain('AvailableGPUs = { GPUs_GPU_b2e8a0f1 }');
    expect(lines).toContain('GPUs_GPU_b2e8a0f1 = [ Id = "GPU-b2e8a0f1"; Capability = 8.0; DeviceName = "NVIDIA A100-SXM4-40GB"; DeviceUuid = "b2e8a0f1-77c2-4d0e-8a1b-0f9e8d7c6b5a"; DriverVersion = 12.4; GlobalMemoryMb = 40960; MaxSupportedVersion = 12040 ]');
    expect(ad).not.toContain('GPU-6d4f0c6a');
    // What a job's GPU requirement evaluates against: every property, per device.
    const counts = execFileSync(join(PREFIX, 'bin', 'condor_status'), ['-af', 'countMatches(Capability >= 8.0 && GlobalMemoryMb >= 40000, AvailableGPUs)', 'countMatches(Capability >= 9.0, AvailableGPUs)'], { env, encoding: 'utf8' });
    expect(counts.trim()).toBe('1 0');
  }, 90_000);
});
