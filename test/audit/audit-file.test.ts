// The audit file's safety rules (issue 25): appended whole, made 0600 in a 0700 directory, and
// refused (nothing written) where someone else could alter it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IS_ROOT, ensureAccount, removeAccount, type TestAccount } from '../helpers/accounts.ts';
import { appendAuditLine, auditFileProblem } from '../../agent/audit/audit-file.ts';

let dir: string;
let other: TestAccount | undefined;
let n = 0;
const fresh = () => join(dir, `d${++n}`);

describe('the audit file', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'glaudfile-'));
    if (IS_ROOT) other = ensureAccount('glaudother');
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    if (other) removeAccount(other.name);
  });

  it('is made 0600 in a directory made 0700, and each line is appended', async () => {
    const d = fresh();
    const f = join(d, 'audit.log');
    expect(await appendAuditLine(f, 'one')).toBeNull();
    expect(await appendAuditLine(f, 'two')).toBeNull();
    expect(readFileSync(f, 'utf8')).toBe('one\ntwo\n');
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(await auditFileProblem(f)).toBeNull();
  });

  it.each([
    ['writable by others', (f: string) => { writeFileSync(f, 'old\n', { mode: 0o600 }); chmodSync(f, 0o646); }, /writable by group or others/],
    ['a symbolic link', (f: string) => { writeFileSync(`${f}.real`, 'old\n', { mode: 0o600 }); symlinkSync(`${f}.real`, f); }, /symbolic link/],
    ['a directory', (f: string) => mkdirSync(f), /cannot be opened|not a regular file/],
  ])('%s is refused and nothing is written', async (_what, make, problem) => {
    const d = fresh();
    mkdirSync(d, { mode: 0o700 });
    const f = join(d, 'audit.log');
    make(f);
    expect(await appendAuditLine(f, 'new')).toMatch(problem);
    expect(await auditFileProblem(f)).toMatch(problem);
  });

  it('a directory others may write is refused (they could replace the file)', async () => {
    const d = fresh();
    mkdirSync(d);
    chmodSync(d, 0o777);
    expect(await appendAuditLine(join(d, 'audit.log'), 'new')).toMatch(/directory .* writable by group or others/);
  });

  it.skipIf(!IS_ROOT)("another account's file, or a file in its directory, is refused", async () => {
    const d = fresh();
    mkdirSync(d, { mode: 0o700 });
    const f = join(d, 'audit.log');
    writeFileSync(f, '', { mode: 0o600 });
    chownSync(f, other!.uid, other!.gid);
    expect(await appendAuditLine(f, 'new')).toMatch(/owned by uid \d+, not by this agent/);
    const d2 = fresh();
    mkdirSync(d2, { mode: 0o700 });
    chownSync(d2, other!.uid, other!.gid);
    expect(await appendAuditLine(join(d2, 'audit.log'), 'new')).toMatch(/directory .* owned by uid/);
    expect(readFileSync(f, 'utf8')).toBe('');
  });
});
