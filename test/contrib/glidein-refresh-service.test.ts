// contrib/glidein-refresh.service: systemd accepts it (systemd-analyze verify), it keeps the
// sandboxing the README promises, and its ExecStart is a serve command line the CLI accepts.
import { describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseCommandArgs } from '../../shared/cli-args.ts';
import { ROOT } from '../helpers/paths.ts';
import { skipWithout, skipWithoutTool } from '../helpers/system-tools.ts';

const UNIT = join(ROOT, 'contrib', 'glidein-refresh.service');
const directives = async () => (await readFile(UNIT, 'utf8')).split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => l.split('=', 2) as [string, string]);

describe('contrib/glidein-refresh.service', () => {
  it('runs serve as a dedicated user in a read-only system with only the state dir writable', async () => {
    const d = new Map(await directives());
    expect(Object.fromEntries(['User', 'NoNewPrivileges', 'ProtectSystem', 'PrivateTmp', 'ReadWritePaths', 'StateDirectory', 'Type', 'ExecReload'].map((k) => [k, d.get(k)]))).toEqual({
      User: 'glidein-refresh', NoNewPrivileges: 'yes', ProtectSystem: 'strict', PrivateTmp: 'yes', ReadWritePaths: '/var/lib/glidein-refresh', StateDirectory: 'glidein-refresh', Type: 'exec', ExecReload: '/bin/kill -HUP $MAINPID',
    });
    const exec = d.get('ExecStart')!.split(' ');
    expect(exec.slice(0, 3)).toEqual(['/usr/local/bin/glidein', 'refresh-service', 'serve']);
    const args = parseCommandArgs('serve', exec.slice(3).filter((a, i, all) => a !== '--log-format' && all[i - 1] !== '--log-format'), {
      state: { type: 'string' }, config: { type: 'string' }, listen: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' },
    });
    expect(args.values['state']).toBe('/var/lib/glidein-refresh');
  });

  it('says what the service accepts of the POOL key: its own file, mode 0600, not group-readable', async () => {
    const text = await readFile(UNIT, 'utf8');
    expect(text).not.toMatch(/readable by this group/);
    expect(text).toMatch(/owned by glidein-refresh,\n# mode 0600\. The service refuses a key readable by group or others \(0640 too\)/);
  });

  const noAnalyze = skipWithoutTool('systemd-analyze', 'apt-get install systemd');
  const offline = !noAnalyze && /--offline/.test(execFileSync('systemd-analyze', ['--help'], { encoding: 'utf8' }));
  it.skipIf(noAnalyze || skipWithout('systemd-analyze security --offline', offline, 'systemd 250 or newer'))('scores 1.0 or less in systemd-analyze security --offline=yes', async () => {
    // The exposure is printed on stdout; the exit status is 0 whatever the score (no --threshold).
    const out = execFileSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', UNIT], { encoding: 'utf8' });
    const score = Number(/Overall exposure level for glidein-refresh\.service: ([\d.]+)/.exec(out)?.[1]);
    console.log(`systemd-analyze security --offline=yes: ${score}`);
    expect(score).toBeLessThanOrEqual(1.0);
  });

  it.skipIf(noAnalyze)('is accepted by systemd-analyze verify', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glidein-unit-'));
    try {
      // The executable is not installed here: point ExecStart at one that exists.
      const text = (await readFile(UNIT, 'utf8')).replace('/usr/local/bin/glidein ', `${process.execPath} `);
      await writeFile(join(dir, 'glidein-refresh.service'), text);
      const r = await promisify(execFile)('systemd-analyze', ['verify', join(dir, 'glidein-refresh.service')]).catch((e: { stderr: string; code: number }) => e);
      expect('stderr' in r ? r.stderr.trim() : '').toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
