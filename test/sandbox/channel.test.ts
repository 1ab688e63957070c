// The spec channel's peer authentication (issue 11, item 2), on a real Unix socket: a local
// process that finds the socket's name (it is public in /proc/net/unix) and connects before the
// wrapper gets nothing, and cannot make the agent believe the payload started.
import { describe, it, expect, afterAll } from 'vitest';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSpecChannel, type ChannelOutcome, type WrapperSpec } from '../../agent/sandbox/channel.ts';

const dir = mkdtempSync(join(tmpdir(), 'glsbx-channel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const SPEC: WrapperSpec = {
  v: 1, jobId: 'j', mode: 'helper', user: null, executable: '/bin/true', argv: ['/bin/true'], env: { SECRET_ENV: 'spec-env-value' },
  cwd: '/', umask: 0o077, stdio: null, credentials: [{ name: 'storage', data: 'j-cred-token' }], bearerName: 'storage',
};

/** A client that connects, optionally sends `first`, and records every byte it receives. */
async function client(path: string, first?: string): Promise<{ sock: Socket; received: () => string; closed: Promise<void> }> {
  const sock = connect(path);
  let got = '';
  sock.on('data', (d: Buffer) => (got += d.toString()));
  sock.on('error', () => undefined);
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  await new Promise<void>((r) => sock.once('connect', () => r()));
  if (first !== undefined) sock.write(first);
  return { sock, received: () => got, closed };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `cond` holds (10 ms steps, 5 s at most: a loaded machine accepts slowly). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await pause(10);
}

describe('the spec channel', () => {
  it.each([
    ['sends nothing', undefined],
    ['sends a wrong secret', `${'0'.repeat(64)}\n`],
    ['sends a line that is too long', `${'a'.repeat(500)}\n`],
  ])('a peer that connects first and %s receives no byte, and its hang-up is not a started payload', async (_what, first) => {
    const ch = await openSpecChannel(join(dir, `s${++n}.sock`), { owner: null, foreignPeer: true });
    let outcome: ChannelOutcome | null = null;
    const exchange = ch.exchange(SPEC).then((o) => (outcome = o));
    const intruder = await client(ch.path, first);
    await pause(150);
    intruder.sock.end();
    await pause(150);
    expect(intruder.received()).toBe('');
    expect(outcome).toBeNull();

    // The real wrapper still gets through afterwards, and only its end-of-file counts.
    const wrapper = await client(ch.path, `${ch.secret}\n`);
    await until(() => wrapper.received().includes('\n'));
    expect(JSON.parse(wrapper.received().split('\n')[0]!)).toMatchObject({ jobId: 'j', credentials: [{ data: 'j-cred-token' }] });
    wrapper.sock.end();
    await exchange;
    expect(outcome).toEqual({ kind: 'exec-ok' });
    ch.close();
  });

  it('a flood of idle connections does not keep the wrapper out', async () => {
    const ch = await openSpecChannel(join(dir, `s${++n}.sock`), { owner: null, foreignPeer: true });
    const exchange = ch.exchange(SPEC);
    const flood = await Promise.all(Array.from({ length: 100 }, () => client(ch.path)));
    const wrapper = await client(ch.path, `${ch.secret}\n`);
    await until(() => wrapper.received().includes('\n'));
    expect(wrapper.received()).toContain('"jobId":"j"');
    expect(flood.map((f) => f.received()).join('')).toBe('');
    wrapper.sock.end();
    expect(await exchange).toEqual({ kind: 'exec-ok' });
    for (const f of flood) f.sock.destroy();
    ch.close();
  });

  it('a peer that connects after the wrapper proved itself is refused', async () => {
    const ch = await openSpecChannel(join(dir, `s${++n}.sock`), { owner: null, foreignPeer: true });
    const exchange = ch.exchange(SPEC);
    const wrapper = await client(ch.path, `${ch.secret}\n`);
    // Proved: the spec line arrives only after the secret was checked.
    await until(() => wrapper.received().includes('\n'));
    const late = connect(ch.path);
    const lateResult = await new Promise<string>((r) => {
      late.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? 'error'));
      late.on('close', () => r('closed'));
    });
    expect(['ECONNREFUSED', 'ENOENT', 'closed']).toContain(lateResult);
    wrapper.sock.end();
    expect(await exchange).toEqual({ kind: 'exec-ok' });
    ch.close();
  });

  it('each channel has its own 256-bit secret, and the socket is 0600 unless a foreign peer must connect', async () => {
    const a = await openSpecChannel(join(dir, `s${++n}.sock`), { owner: null, foreignPeer: false });
    const b = await openSpecChannel(join(dir, `s${++n}.sock`), { owner: null, foreignPeer: true });
    expect(a.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(a.secret).not.toBe(b.secret);
    expect(statSync(a.path).mode & 0o777).toBe(0o600);
    expect(statSync(b.path).mode & 0o777).toBe(0o666);
    a.close();
    b.close();
  });
});
