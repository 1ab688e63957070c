// The built executable: version, help, unknown commands and flags, glibc floor.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from './helpers/run-cli.ts';
import { EXE } from './helpers/paths.ts';

describe('dist/glidein', () => {
  it('answers --version with the product and Node versions', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^glidein \d+\.\d+\.\d+ \(node 24\.\d+\.\d+\)\n$/);
  });

  it('lists every contract command in --help', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['validate', 'exec', 'run', 'refresh-service serve', 'refresh-service register', 'refresh-service revoke', 'demo', '--version']) {
      expect(r.stdout).toContain(`glidein ${c}`);
    }
  });

  it.each(['validate', 'exec', 'run', 'demo', 'refresh-service', 'refresh-service serve', 'refresh-service register', 'refresh-service revoke'])(
    'prints help for %s --help and exits 0', async (cmd) => {
      const r = await runCli([...cmd.split(' '), '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: glidein /);
    });

  it.each([
    [['bogus'], /unknown command 'bogus'/],
    [['--bogus'], /unknown flag --bogus/],
    [['refresh-service', 'bogus'], /unknown command 'refresh-service bogus'/],
    [['--log-format', 'xml', '--version'], /--log-format 'xml' is not valid; expected human or json/],
  ])('exits 2 on %j naming it', async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('exits 2 with usage when no command is given', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('Usage:');
  });

  it('needs no glibc newer than 2.28', () => {
    const symbols = execFileSync('objdump', ['-T', EXE], { maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const versions = [...new Set(symbols.match(/GLIBC_[0-9.]+/g))].map((v) => v.slice(6).split('.').map(Number));
    expect(versions.length).toBeGreaterThan(3);
    for (const [major, minor = 0] of versions) {
      expect(major! * 1000 + minor).toBeLessThanOrEqual(2 * 1000 + 28);
    }
  });

  it('embeds a node-pty addon that also needs no glibc newer than 2.28', () => {
    const info = JSON.parse(readFileSync(join(dirname(EXE), 'build-info.json'), 'utf8')) as { ptyAsset: boolean; ptyGlibcMax: string };
    expect(info.ptyAsset).toBe(true);
    const [major, minor] = info.ptyGlibcMax.split('.').map(Number);
    expect(major! * 1000 + minor!).toBeLessThanOrEqual(2028);
  });

  it('runs with nothing but the executable (no node_modules beside it)', async () => {
    const r = await runCli(['--version'], { cwd: '/', env: { PATH: '/usr/bin:/bin' } });
    expect(r.code).toBe(0);
  });
});
