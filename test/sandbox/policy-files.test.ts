// Issue 26 item 4: every file a policy names is loaded and checked when the policy is. On the old
// code `validate --policy` passed (exit 0) with a garbage jwksFile, and `exec` turned a missing
// mapfile into a held job (exit 3); both now exit 2 naming the file.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/run-cli.ts';

let dir: string;
let job: string;
const ISSUER = 'https://iss.example';
const policyFile = (name: string, fields: Record<string, unknown>) => {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify({ identity: 'none', ...fields }));
  return p;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'glidein-policy-files-'));
  job = join(dir, 'job.json');
  writeFileSync(job, JSON.stringify({ id: 'j1', executable: '/bin/true', args: [] }));
  writeFileSync(join(dir, 'mapfile'), `SCITOKENS /^https:\\/\\/iss\\.example,alice$/ nobody\n`);
  writeFileSync(join(dir, 'bad-line.mapfile'), `SCITOKENS /[unclosed/ alice\nSCITOKENS /^https:\\/\\/iss\\.example,alice$/ nobody\n`);
  writeFileSync(join(dir, 'garbage.jwks'), 'this is not a key set\n');
  writeFileSync(join(dir, 'empty.jwks'), '{"keys": []}');
  writeFileSync(join(dir, 'private.jwks'), JSON.stringify({ keys: [generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })] }));
  writeFileSync(join(dir, 'good.jwks'), JSON.stringify({ keys: [generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })] }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the files a policy names are checked up front', () => {
  it.each([
    ['garbage', 'garbage.jwks', /jwksFile .*garbage\.jwks is not valid JSON/],
    ['an empty key set', 'empty.jwks', /jwksFile .*empty\.jwks is not a JWK set/],
    ['a private key', 'private.jwks', /jwksFile .*private\.jwks keys\[0\] is a private key/],
    ['a missing file', 'absent.jwks', /jwksFile .*absent\.jwks does not exist/],
  ])('validate --policy refuses a jwksFile that is %s (exit 2, naming it)', async (_what, name, message) => {
    const p = policyFile(`p-${name}.json`, { issuers: { [ISSUER]: { jwksFile: join(dir, name) } } });
    const r = await runCli(['validate', '--policy', p, '--format', 'json'], { source: true });
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  }, 60_000);

  it('exec refuses a missing mapfile (exit 2 naming it), not a held job', async () => {
    const p = policyFile('p-nomap.json', { mapfile: join(dir, 'no-such-mapfile'), issuers: { [ISSUER]: { jwksFile: join(dir, 'good.jwks') } } });
    const r = await runCli(['exec', '--job', job, '--policy', p], { source: true });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/mapfile .*no-such-mapfile does not exist/);
    expect(r.code).toBe(2);
  }, 30_000);

  it('exec runs the job when every file is good', async () => {
    const p = policyFile('p-good.json', { mapfile: join(dir, 'mapfile'), issuers: { [ISSUER]: { jwksFile: join(dir, 'good.jwks') } } });
    const r = await runCli(['exec', '--job', job, '--policy', p], { source: true });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'completed', exitCode: 0 });
  }, 30_000);

  it('exec logs a mapfile line HTCondor would skip, naming it, and runs; with strictMapfile it refuses the policy (exit 2)', async () => {
    const files = { mapfile: join(dir, 'bad-line.mapfile'), issuers: { [ISSUER]: { jwksFile: join(dir, 'good.jwks') } } };
    const lenient = await runCli(['exec', '--job', job, '--policy', policyFile('p-badline.json', files)], { source: true });
    expect(lenient.code, lenient.stderr).toBe(0);
    expect(lenient.stderr).toMatch(/bad-line\.mapfile:1: regex \\?"\[unclosed\\?" does not compile in PCRE2 .*line skipped, as HTCondor skips it/);
    const strict = await runCli(['exec', '--job', job, '--policy', policyFile('p-strict.json', { ...files, strictMapfile: true })], { source: true });
    expect(strict.stdout).toBe('');
    expect(strict.stderr).toMatch(/bad-line\.mapfile:1: .*\(strictMapfile\)/);
    expect(strict.code).toBe(2);
  }, 60_000);
});
