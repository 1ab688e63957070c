// The numbers the README gives for flags are the ones the CLI enforces (issue 27 section 2):
// register --lifetime from 60, run --heartbeat-interval from 1 (0 refused, as the heartbeatTimeout
// row says: pilots always report).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/paths.ts';
import { runCli } from './helpers/run-cli.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('documented flag limits', () => {
  it.each([
    [['refresh-service', 'register', '--state', '/nonexistent/st', '--glidein-id', 'g', '--entry', 'e', '--lifetime', '59'], "refresh-service register: --lifetime '59' is not valid; expected an integer from 60 to 31622400"],
    [['run', '--bundle', '/nonexistent/b.json', '--heartbeat-interval', '0', '--', 'true'], "run: --heartbeat-interval '0' is not valid; expected an integer from 1"],
  ])('the CLI refuses %j with exit 2', async (args, message) => {
    const r = await runCli(args, { source: true });
    expect(r.stderr).toContain(message);
    expect(r.code).toBe(2);
  });

  it('the README states the same limits', () => {
    expect(readme).toContain('register `--lifetime` overrides: 60 to 31 622 400 seconds');
    expect(readme).toContain('(`--lifetime` at least 60)');
    expect(readme).toContain('`run --heartbeat-interval`, default 300, at least 1; `0` is refused');
    expect(readme).not.toContain('--heartbeat-interval 0` need');
  });
});
