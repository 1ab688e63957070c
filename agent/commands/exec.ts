// `glidein exec --job FILE [--policy FILE] [--container-mode MODE] [--default-image IMAGE]`: run one job spec through exactly the sandbox path
// the pilot uses and print its result object on stdout (DESIGN.md section 5, contract).
import { mkdtemp, chmod } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonFile } from '../../shared/json-file.ts';
import { parseCommandArgs, requiredStringFlag, stringFlag } from '../../shared/cli-args.ts';
import type { CommandContext } from '../command.ts';
import { CredStore, removeTree } from '../store/index.ts';
import { parseJobSpec, runJob, exitCodeForResult } from '../sandbox/index.ts';
import { loadCheckedPolicy } from '../sandbox/policy-files.ts';
import { MAX_JOB_SPEC_BYTES } from '../sandbox/job-spec.ts';
import { parseContainerEntry } from '../../shared/container-entry.ts';

async function readJob(path: string) {
  return parseJobSpec(await readJsonFile(path, { code: 'GLIDEIN_ERR_JOB_SPEC', what: 'job spec', maxBytes: MAX_JOB_SPEC_BYTES }), path);
}

export async function run(argv: string[], ctx: CommandContext): Promise<number> {
  const args = parseCommandArgs('exec', argv, { job: { type: 'string' }, policy: { type: 'string' }, 'container-mode': { type: 'string' }, 'default-image': { type: 'string' } });
  const jobPath = requiredStringFlag('exec', args, 'job', 'the job spec file');
  const spec = await readJob(jobPath);
  const policy = await loadCheckedPolicy(stringFlag(args, 'policy'), ctx.log);
  // What a factory entry's bundle field `container` says for a pilot (issue 22), as flags.
  const mode = stringFlag(args, 'container-mode');
  const image = stringFlag(args, 'default-image');
  const container = parseContainerEntry(mode === undefined && image === undefined ? undefined : { mode: mode ?? 'optional', defaultImage: image ?? null }, 'GLIDEIN_ERR_USAGE', 'exec --container-mode/--default-image');
  // A private work dir for this one job's credentials; traversable (not listable) so the
  // mapped account can reach its own cred.d/jobs/<id>/.
  const workdir = await mkdtemp(join(realpathSync(tmpdir()), 'glidein-exec-'));
  await chmod(workdir, 0o711);
  try {
    const store = await CredStore.open(workdir, { log: ctx.log });
    try {
      const result = await runJob(spec, { policy, store, log: ctx.log, signal: ctx.signal, agentEnv: ctx.env, container });
      ctx.stdout.write(JSON.stringify(result) + '\n');
      return exitCodeForResult(result);
    } finally {
      await store.wipeAll();
    }
  } finally {
    // Never a path-based recursive rm as root: if the store wipe failed, a job dir is still in it.
    await removeTree(workdir);
  }
}
