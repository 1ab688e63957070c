// The site's audit records through the real CLI (`glidein exec`, issue 25): real accounts, real
// setuid switching, records in a root-owned audit file and in a real syslogd on a private
// /dev/log; the end records of completed, held and killed jobs; what a payload can do to them.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { IS_ROOT } from '../helpers/accounts.ts';
import { runCli } from '../helpers/run-cli.ts';
import { CLI_TS, NODE } from '../helpers/paths.ts';
import { skipWithout } from '../helpers/system-tools.ts';
import { privateSyslogAvailable, withPrivateSyslog } from '../helpers/private-syslog.ts';
import { credentialsSyslogAvailable, startCredentialsSyslog } from '../helpers/credentials-syslog.ts';
import { makeFixture, type SandboxFixture } from '../sandbox/sandbox-fixture.ts';
import { parseAuditLine, type AuditRecord } from '../../agent/audit/audit-record.ts';

let fx: SandboxFixture;
const JWT_SHAPE = /eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\./;
let n = 0;

function auditFile(): string {
  const dir = join(fx.dir, `audit-${++n}`);
  return join(dir, 'audit.log');
}

function records(file: string): AuditRecord[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => {
    const r = parseAuditLine(l);
    if (!r) throw new Error(`not an audit record: ${l}`);
    return r;
  });
}

async function exec(job: string, policy: string) {
  const r = await runCli(['exec', '--job', job, '--policy', policy, '--log-format', 'json'], { source: true });
  return { ...r, result: r.stdout ? (JSON.parse(r.stdout) as Record<string, unknown>) : {} };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe.skipIf(!IS_ROOT)('site audit records of glidein exec (setuid)', () => {
  beforeAll(async () => {
    fx = await makeFixture(['glaudalice', 'glaudbob']);
  });
  afterAll(() => fx?.cleanup());

  it('a completed job has a start and an end record naming the identity, the mapfile line, the account and the payload pid', async () => {
    const file = auditFile();
    const w = fx.workdir(fx.users.a);
    const token = await fx.token({ sub: 'alice', extra: { 'wlcg.groups': ['/cms', '/cms/prod'] } });
    const job = fx.job({ id: 'aud-ok', executable: '/bin/sh', args: ['-c', 'echo $$ > pid; echo done'], cwd: w, stdout: join(w, 'out'), identity: token });
    const r = await exec(job, fx.policy({ identity: 'setuid', audit: { syslog: false, file } }));
    expect(r.code, r.stderr).toBe(0);
    const [start, end, ...rest] = records(file);
    expect(rest).toEqual([]);
    const pid = Number(readFileSync(join(w, 'pid'), 'utf8'));
    const who = { job: 'aud-ok', source: 'exec', iss: 'https://issuer.example.org', sub: 'alice', verified: true, account: fx.users.a.name, uid: fx.users.a.uid, mode: 'setuid', pid, tokenSha256: sha256(token), mapLine: 3, executable: '/bin/sh' };
    expect(start).toMatchObject({ event: 'start', ...who, groups: ['/cms', '/cms/prod'], mapRule: `SCITOKENS /^https:\\/\\/issuer\\.example\\.org,alice$/ ${fx.users.a.name}` });
    expect(start!.jti).toMatch(/^jti-/);
    expect(end).toMatchObject({ event: 'end', ...who, run: start!.run, state: 'completed', why: 'completed', exitCode: 0, startedAt: start!.time });
    // CPU time from the job's own cgroup, where one could be made (here: cgroup v2 as root).
    expect(end!.cgroup).toBe(start!.cgroup);
    if (start!.cgroup) expect(end!.cpuSeconds).toBeGreaterThan(0);
    expect(new Date(start!.pidStart!).getTime()).toBeLessThanOrEqual(new Date(start!.time).getTime() + 1000);
    // The audit file is root's and private; the directory made for it too.
    expect(statSync(file).uid).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(file, '..')).mode & 0o777).toBe(0o700);
    // No token material in any record.
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(JWT_SHAPE);
    expect(text).not.toContain(token.split('.')[2]!);
  });

  it('an unmapped identity gets one end record of the refusal, naming the identity, and no start', async () => {
    const file = auditFile();
    const token = await fx.token({ sub: 'mallory' });
    const job = fx.job({ id: 'aud-unmapped', executable: '/bin/true', identity: token });
    const r = await exec(job, fx.policy({ identity: 'setuid', audit: { syslog: false, file } }));
    expect(r.code).toBe(3);
    const all = records(file);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ event: 'end', job: 'aud-unmapped', state: 'held', why: 'held', sub: 'mallory', verified: true, account: null, uid: null, mapRule: null, tokenSha256: sha256(token), pid: null });
    expect(all[0]!.reason).toMatch(/^UNMAPPED: /);
  });

  it("a forged identity's end record says what it claimed, unverified", async () => {
    const file = auditFile();
    const job = fx.job({ id: 'aud-forged', executable: '/bin/true', identity: await fx.token({ sub: 'alice' }, true) });
    await exec(job, fx.policy({ identity: 'setuid', audit: { syslog: false, file } }));
    expect(records(file)).toMatchObject([{ event: 'end', state: 'held', sub: 'alice', verified: false, account: null }]);
  });

  it('a job killed at its wallclock limit ends with why wallclock and its signal', async () => {
    const file = auditFile();
    const job = fx.job({ id: 'aud-wall', executable: '/bin/sleep', args: ['30'], limits: { wallclockSeconds: 1 }, identity: await fx.token({ sub: 'bob' }) });
    const r = await exec(job, fx.policy({ identity: 'setuid', audit: { syslog: false, file } }));
    expect(r.result).toMatchObject({ state: 'killed' });
    const [start, end] = records(file);
    expect(start).toMatchObject({ event: 'start', account: fx.users.b.name });
    expect(end).toMatchObject({ event: 'end', state: 'killed', why: 'wallclock', signal: 'SIGTERM', account: fx.users.b.name, uid: fx.users.b.uid });
  });

  it('a job stopped before its credential expires ends with why credential-expired', async () => {
    const file = auditFile();
    const storage = await fx.token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 8 });
    const job = fx.job({ id: 'aud-cred', executable: '/bin/sleep', args: ['30'], identity: await fx.token({ sub: 'alice' }), credentials: [{ purpose: 'storage', type: 'scitoken', token: storage }] });
    const r = await exec(job, fx.policy({ identity: 'setuid', audit: { syslog: false, file } }));
    expect(r.result).toMatchObject({ state: 'killed' });
    expect(records(file)).toMatchObject([{ event: 'start' }, { event: 'end', state: 'killed', why: 'credential-expired' }]);
    expect(readFileSync(file, 'utf8')).not.toContain(storage.split('.')[1]!);
  });

  it('the payload cannot write into the audit file, nor replace it', async () => {
    const file = auditFile();
    const policy = fx.policy({ identity: 'setuid', audit: { syslog: false, file } });
    // A first job, so that the file exists when the second one tries (its start record is written as it starts).
    expect((await exec(fx.job({ id: 'aud-first', executable: '/bin/true', identity: await fx.token({ sub: 'alice' }) }), policy)).code).toBe(0);
    const w = fx.workdir(fx.users.a);
    const script = `echo forged >> ${file}; echo "a=$?"; mv ${file} ${w}/x; echo "m=$?"; rm -f ${file}; echo "r=$?"`;
    const job = fx.job({ id: 'aud-forge', executable: '/bin/sh', args: ['-c', script], cwd: w, stdout: join(w, 'out'), stderr: join(w, 'err'), identity: await fx.token({ sub: 'alice' }) });
    const r = await exec(job, policy);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(w, 'out'), 'utf8')).toMatch(/a=[1-9].*\nm=[1-9].*\nr=[1-9]/s);
    expect(readFileSync(file, 'utf8')).not.toContain('forged');
    expect(records(file).map((x) => `${x.job} ${x.event}`)).toEqual(['aud-first start', 'aud-first end', 'aud-forge start', 'aud-forge end']);
  });

  it('with audit required, a file others can write means no job starts', async () => {
    const file = auditFile();
    mkdirSync(join(file, '..'), { mode: 0o700 });
    appendFileSync(file, '', { mode: 0o600 });
    chmodSync(file, 0o666);
    const marker = join(fx.dir, `ran-${n}`);
    const job = fx.job({ id: 'aud-req', executable: '/usr/bin/touch', args: [marker], identity: await fx.token({ sub: 'alice' }) });
    const r = await exec(job, fx.policy({ identity: 'setuid', audit: { syslog: false, file, required: true } }));
    expect(r.code).toBe(3);
    expect(r.result).toMatchObject({ state: 'failed', launchError: { stage: 'audit', code: 'AUDIT_UNAVAILABLE', permanent: false } });
    expect(existsSync(marker)).toBe(false);
    expect(r.stderr).toContain('site audit record not written');
    expect(readFileSync(file, 'utf8')).toBe('');
  });

  it("a payload's forged syslog line carries its own uid, glidein's records root's (the kernel's SCM_CREDENTIALS, as journald's _UID)", async (ctx) => {
    if (skipWithout('python3 and logger', credentialsSyslogAvailable(), 'install python3 and util-linux')) return ctx.skip();
    const dir = join(fx.dir, `creds-syslog-${++n}`);
    mkdirSync(dir, { mode: 0o755 });
    const syslog = await startCredentialsSyslog(dir);
    try {
      const forged = '{"v":1,"event":"end","time":"2026-12-07T00:00:00Z","job":"forged","sub":"someone-else"}';
      const job = fx.job({ id: 'aud-forge-syslog', executable: '/usr/bin/logger', args: ['-u', syslog.socket, '-t', 'glidein-audit', forged], identity: await fx.token({ sub: 'alice' }) });
      const r = await exec(job, fx.policy({ identity: 'setuid', audit: { syslog: syslog.socket } }));
      expect(r.code, r.stderr).toBe(0);
      const audit = (await syslog.messages()).filter((m) => m.msg.includes('glidein-audit'));
      // Whatever the order: root sent exactly glidein's two records, the payload's account the forged one.
      expect(audit.filter((m) => m.uid === 0).map((m) => parseAuditLine(m.msg)?.event)).toEqual(['start', 'end']);
      expect(audit.filter((m) => m.uid !== 0).map((m) => [m.uid, parseAuditLine(m.msg)?.job])).toEqual([[fx.users.a.uid, 'forged']]);
    } finally {
      syslog.close();
    }
  });

  it('by default (setuid, no audit key) the records go to syslog as authpriv, through a real syslogd on a private /dev/log', async (ctx) => {
    if (skipWithout('a private syslogd (root, unshare, busybox)', privateSyslogAvailable(), 'run as root with util-linux unshare and busybox installed')) return ctx.skip();
    const token = await fx.token({ sub: 'bob' });
    const job = fx.job({ id: 'aud-syslog', executable: '/bin/true', identity: token });
    const r = await withPrivateSyslog([NODE, CLI_TS, 'exec', '--job', job, '--policy', fx.policies.setuid, '--log-format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.syslog.filter((l) => l.includes('glidein-audit'));
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(/ authpriv\.notice glidein-audit: \{/);
    expect(lines.map(parseAuditLine)).toMatchObject([{ event: 'start', sub: 'bob', account: fx.users.b.name }, { event: 'end', sub: 'bob', state: 'completed' }]);
    expect(lines.join('\n')).not.toMatch(JWT_SHAPE);
    expect(r.stderr).not.toContain('site audit record not written');
  });
});
