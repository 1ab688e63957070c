// VO and factory scripts in glidein's own pilot (issue 24 section 5): the runner with real bash
// scripts written the way GlideinWMS custom scripts are (source ADD_CONFIG_LINE_SOURCE,
// add_config_line + add_condor_vars_line, ERROR_GEN_PATH -ok/-error), as the pilot (as root: a
// real unprivileged account), in a fresh directory, killed at the deadline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScriptSpecs, type ScriptSpec } from '../../../shared/script-spec.ts';
import { prepareScriptRoot, runScript, type ScriptAccount, type ScriptRoot } from '../../../agent/pilot/scripts/run-script.ts';
import { startPeriodic } from '../../../agent/pilot/scripts/periodic.ts';
import { IS_ROOT, ensureAccount, removeAccount } from '../../helpers/accounts.ts';
import { endsWithin } from '../../helpers/process-alive.ts';

const ACCOUNT_NAME = 'glvoscript';
let base: string;
let account: ScriptAccount;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'voscripts-'));
  chmodSync(base, 0o711);
  account = IS_ROOT ? ensureAccount(ACCOUNT_NAME) : { uid: process.getuid!(), gid: process.getgid!() };
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  if (IS_ROOT) removeAccount(ACCOUNT_NAME);
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const spec = (name: string, content: Buffer, extra: Partial<ScriptSpec> = {}): ScriptSpec => ({ name, sha256: sha(content), stage: 'validate', period: null, deadline: 20, ...extra });
let n = 0;
const root = () => prepareScriptRoot(join(base, `r${n++}`), { GLIDEIN_Factory: 'OSG', GLIDEIN_Entry_Name: 'CE_A', GLIDEIN_Site: 'T2_X' }, account);
const PREAMBLE = `#!/bin/bash
glidein_config="$1"
add_config_line_source=$(grep -m1 '^ADD_CONFIG_LINE_SOURCE ' "$glidein_config" | cut -d ' ' -f 2-)
source "$add_config_line_source"
condor_vars_file=$(gconfig_get CONDOR_VARS_FILE "$glidein_config")
error_gen=$(gconfig_get ERROR_GEN_PATH "$glidein_config")
`;
const script = (body: string) => Buffer.from(PREAMBLE + body);

describe('a VO script run by the pilot', () => {
  it('publishes what it writes with add_config_line + add_condor_vars_line, and its OK result', async () => {
    const r0 = await root();
    const content = script(`site=$(gconfig_get GLIDEIN_Site)
add_config_line VO_SW_VERSION "1.2 beta"
add_condor_vars_line VO_SW_VERSION "S" "-" "+" "N" "Y" "-"
add_config_line HAS_VO_REPO True
add_condor_vars_line HAS_VO_REPO "C" "-" "+" "N" "Y" "-"
add_config_line VO_CORES 8
add_condor_vars_line VO_CORES "I" "-" "+" "N" "Y" "-"
add_config_line VO_PRIVATE x
add_condor_vars_line VO_PRIVATE "S" "-" "+" "N" "N" "-"
[ "$(id -u)" = "${account.uid}" ] && [ "$PWD" != "$(dirname "$glidein_config")" ] || exit 3
"$error_gen" -ok "vo_check.sh" "site" "$site" "VO_SW_VERSION" "1.2 beta"
`);
    const r = await runScript(r0, spec('vo_check.sh', content), content, process.env);
    expect(r, r.detail).toMatchObject({ outcome: 'ok', exitCode: 0, failure: null, attributes: { VO_SW_VERSION: '1.2 beta', HAS_VO_REPO: true, VO_CORES: 8 } });
    expect(r.attributes).not.toHaveProperty('VO_PRIVATE');
    expect(r.xml).toMatchObject({ kept: true, status: 'OK', metrics: { site: 'T2_X', VO_SW_VERSION: '1.2 beta' } });
  });

  it.each([
    ['error_gen -error with a category', script('"$error_gen" -error "vo_check.sh" "WN_Resource" "no /cvmfs/vo.example.org" "Repo" "vo.example.org"\nexit 1\n'), 'failed', 'WN_Resource', 'no /cvmfs/vo.example.org'],
    ['exit 1 and no XML', script('echo broken >&2\nexit 1\n'), 'failed', 'VO_Config', 'broken'],
    ['an OK document with exit 1 (GlideinWMS drops it)', script('"$error_gen" -ok "x"\nexit 1\n'), 'failed', 'VO_Config', 'exit 1'],
  ])('%s: outcome %s, failure %s', async (_what, content, outcome, failure, detail) => {
    const r = await runScript(await root(), spec('check.sh', content), content, process.env);
    expect(r).toMatchObject({ outcome, failure });
    expect(r.detail).toContain(detail);
  });

  it('a hash mismatch fails as Config and nothing runs', async () => {
    const r0 = await root();
    const content = script(`touch "${base}/ran-mismatch"\n`);
    const r = await runScript(r0, { ...spec('x.sh', content), sha256: sha(Buffer.from('other')) }, content, process.env);
    expect(r).toMatchObject({ outcome: 'hash-mismatch', failure: 'Config', exitCode: null });
    expect(existsSync(join(base, 'ran-mismatch'))).toBe(false);
  });

  it('a hung script is killed at its deadline with everything it started', async () => {
    const r0 = await root();
    const content = script('sleep 300 & echo $! > child.pid\nsleep 300\n');
    const r = await runScript(r0, spec('hang.sh', content, { deadline: 1 }), content, process.env);
    expect(r).toMatchObject({ outcome: 'deadline', failure: 'VO_Config' });
    const runDir = join(r0.dir, readdirSync(r0.dir).find((d) => d.startsWith('run-hang.sh-'))!);
    const pid = Number(readFileSync(join(runDir, 'child.pid'), 'utf8'));
    expect(await endsWithin(pid)).toBe(true);
  });

  it('gives GET_ID_SELECTORS_SOURCE: get_prefix of the entry dir id is ENTRY_, so a blacklist check like GlideinWMS check_blacklist.sh finds ENTRY_BLACKLIST_FILE', async () => {
    const r0 = await root();
    // Written the way GlideinWMS's check_blacklist.sh reads its file (its code is not copied here).
    const writer = script(`echo "'$(uname -n)'" > "$PWD/bl"; chmod 644 "$PWD/bl"; add_config_line ENTRY_BLACKLIST_FILE "$PWD/bl"\n"$error_gen" -ok w.sh\n`);
    const check = script(`. "$(gconfig_get GET_ID_SELECTORS_SOURCE "$glidein_config")"
prefix=$(get_prefix "$2") || exit 5
[ "$(get_prefix main)" = "" ] && [ "$(get_prefix client_group)" = GLIDECLIENT_GROUP_ ] || exit 6
get_prefix nonsense 2>/dev/null && exit 7
bl=$(gconfig_get "\${prefix}BLACKLIST_FILE" "$glidein_config")
[ -n "$bl" ] || exit 8
if grep -q -e "^'$(uname -n)'" "$bl"; then "$error_gen" -error c.sh WN_Resource "My name is in blacklist"; exit 1; fi
"$error_gen" -ok c.sh
`);
    expect((await runScript(r0, spec('w.sh', writer), writer, process.env)).outcome).toBe('ok');
    const r = await runScript(r0, spec('c.sh', check), check, process.env);
    expect(r).toMatchObject({ outcome: 'failed', exitCode: 1, failure: 'WN_Resource' });
    expect(r.detail).toContain('My name is in blacklist');
  });

  it('never runs as root', async () => {
    const r0: ScriptRoot = { ...(await root()), account: { uid: 0, gid: 0 } };
    const content = script('exit 0\n');
    expect(await runScript(r0, spec('x.sh', content), content, process.env)).toMatchObject({ outcome: 'as-root', failure: 'Config' });
  });

  it('a periodic script that fails on its third run ends the periodic runs with that failure', async () => {
    const r0 = await root();
    const content = script(`n=$(( $(gconfig_get VO_RUNS || true) + 1 ))\nadd_config_line VO_RUNS $n\n[ $n -lt 3 ] || { "$error_gen" -error p.sh VO_Config "run $n failed"; exit 1; }\n"$error_gen" -ok p.sh\n`);
    const seen: string[] = [];
    const h = startPeriodic(r0, spec('p.sh', content, { stage: 'periodic', period: 1 }), content, process.env, (r) => seen.push(r.outcome));
    const failed = await h.done;
    expect(seen).toEqual(['ok', 'ok', 'failed']);
    expect(failed).toMatchObject({ outcome: 'failed', failure: 'VO_Config', detail: expect.stringContaining('run 3 failed') });
  });
});

describe('the bundle field scripts', () => {
  const s = { name: 'a.sh', sha256: 'a'.repeat(64), stage: 'validate', deadline: 60 };
  it('reads a list of scripts', () => {
    expect(parseScriptSpecs([s, { ...s, name: 'p.sh', stage: 'periodic', period: 600 }], 'b')).toEqual([
      { name: 'a.sh', sha256: 'a'.repeat(64), stage: 'validate', period: null, deadline: 60 },
      { name: 'p.sh', sha256: 'a'.repeat(64), stage: 'periodic', period: 600, deadline: 60 },
    ]);
  });
  it.each([
    [[{ ...s, name: '../x' }], 'scripts[0].name'],
    [[{ ...s, sha256: 'A'.repeat(64) }], 'scripts[0].sha256'],
    [[{ ...s, stage: 'cleanup' }], 'scripts[0].stage'],
    [[{ ...s, stage: 'periodic' }], 'scripts[0].period'],
    [[{ ...s, period: 5 }], 'scripts[0].period'],
    [[{ ...s, deadline: 0 }], 'scripts[0].deadline'],
    [[s, s], 'listed twice'],
    [[{ ...s, url: 'x' }], 'scripts[0].url'],
  ])('refuses %j naming %s', (value, message) => {
    expect(() => parseScriptSpecs(value, 'bundle b.json')).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_BUNDLE', message: expect.stringContaining(message) }));
  });
});
