// `glidein demo` tells one story (issue 27 section 2): the site policy it announces is the one its
// node validation tests (identity and permissions checked, not SKIP), and its logs follow
// --log-level and --log-format like every other command's.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.ts';

describe('glidein demo', () => {
  it('validates the identity switch it announces, and logs JSON at debug when asked', async () => {
    const r = await runCli(['--log-level', 'debug', '--log-format', 'json', 'demo'], { source: true, timeoutMs: 180_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const mode = /^site policy: identity (\w+)/m.exec(r.stdout)?.[1];
    expect(mode).toMatch(/^(none|setuid)$/);
    const row = (check: string) => new RegExp(`^\\s+${check}\\s+(\\w+)\\s.*$`, 'm').exec(r.stdout);
    if (mode === 'setuid') {
      // Root: payloads run as nobody, and the validation ran the test payload as nobody too.
      expect(row('identity')?.[1], row('identity')?.[0]).toBe('PASS');
      expect(row('identity')![0]).toContain('setuid: nobody');
      expect(row('permissions')?.[1]).toBe('PASS');
    } else {
      // Not root: no switch, and the table says so for the same reason.
      expect(row('identity')?.[0]).toMatch(/SKIP .*policy identity 'none'/);
    }
    const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(lines.some((l) => l.level === 'debug')).toBe(true);
    expect(lines.some((l) => l.msg === 'refresh service listening')).toBe(true);
  }, 200_000);
});
