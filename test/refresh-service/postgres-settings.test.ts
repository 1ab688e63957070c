// The `database` config key and the database password: libpq-style URLs, never a password in
// the config, the password file only when private.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServiceConfig } from '../../refresh-service/config.ts';
import { parseDatabaseUrl, readDatabasePassword } from '../../refresh-service/state/postgres-settings.ts';

describe('database URL', () => {
  it.each([
    ['postgres://glidein@db.example.org:5433/rs', { host: 'db.example.org', port: 5433, user: 'glidein', database: 'rs', ssl: 'prefer' }],
    ['postgresql://glidein@db/rs?sslmode=verify-full', { host: 'db', port: 5432, ssl: 'verify-full' }],
    ['postgres://glidein@[::1]:6000/rs', { host: '::1', port: 6000 }],
    ['postgres://glidein@%2Fvar%2Frun%2Fpostgresql/rs', { host: '/var/run/postgresql', ssl: 'disable' }],
    ['postgres://glidein@/rs?host=/tmp/pg&port=6543', { host: '/tmp/pg', port: 6543 }],
    ['postgres://glidein@/rs', { host: '/var/run/postgresql' }],
    ['postgres://gl%40x@db/my%20db?connect_timeout=3', { user: 'gl@x', database: 'my db', connectTimeoutSeconds: 3 }],
  ])('reads %s', (url, expected) => {
    expect(parseDatabaseUrl(url, 'rs.json')).toMatchObject(expected);
  });

  it.each([
    ['postgres://glidein:secret@db/rs', 'holds a password'],
    ['postgres://glidein@db/rs?password=secret', 'holds a password'],
    ['mysql://glidein@db/rs', 'postgres:// or postgresql://'],
    ['postgres://db/rs', 'expected a user'],
    ['postgres://glidein@db', 'expected a database name'],
    ['postgres://glidein@db/rs?sslmode=sometimes', 'sslmode'],
    ['postgres://glidein@db/rs?options=-c', "unknown parameter 'options'"],
    ['postgres://glidein@db:99999/rs', 'a URL like'],
    ['not a url', 'a URL like'],
  ])('refuses %s naming the key', (url, why) => {
    expect(() => parseDatabaseUrl(url, 'rs.json')).toThrow(expect.objectContaining({ code: 'GLIDEIN_ERR_CONFIG', message: expect.stringContaining(why) }));
    expect(() => parseDatabaseUrl(url, 'rs.json')).toThrow('rs.json: database: ');
  });

  it('never repeats the password of a refused URL in the message', () => {
    for (const url of ['postgres://glidein:hunter2@db/rs', 'postgres://glidein:hunter2@db:99999/rs']) {
      let message = '';
      try {
        parseDatabaseUrl(url, 'rs.json');
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toContain('database');
      expect(message).not.toContain('hunter2');
    }
  });

  it('is checked when the config is parsed, and the password file needs a database', () => {
    expect(parseServiceConfig({ database: 'postgres://g@db/rs', databasePasswordFile: '/etc/rs/pw' }, 'rs.json')).toMatchObject({ database: 'postgres://g@db/rs', databasePasswordFile: '/etc/rs/pw' });
    expect(parseServiceConfig({}, 'rs.json')).toMatchObject({ database: '', databasePasswordFile: '' });
    expect(() => parseServiceConfig({ database: 'postgres://g:pw@db/rs' }, 'rs.json')).toThrow(/rs\.json: database: .*password/);
    expect(() => parseServiceConfig({ databasePasswordFile: '/etc/rs/pw' }, 'rs.json')).toThrow(/rs\.json: databasePasswordFile/);
  });
});

describe('database password', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'glidein-pgpw-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('comes from a 0600 file, trailing newline dropped, before PGPASSWORD', async () => {
    const file = join(dir, 'pw');
    await writeFile(file, 's3cret\n', { mode: 0o600 });
    expect(await readDatabasePassword(file, { PGPASSWORD: 'env' })).toBe('s3cret');
    expect(await readDatabasePassword('', { PGPASSWORD: 'env' })).toBe('env');
    expect(await readDatabasePassword('', {})).toBeUndefined();
  });

  it('refuses a password file readable by group or others', async () => {
    const file = join(dir, 'open');
    await writeFile(file, 's3cret\n', { mode: 0o600 });
    await chmod(file, 0o640);
    await expect(readDatabasePassword(file, {})).rejects.toMatchObject({ code: 'GLIDEIN_ERR_KEY_FILE', message: expect.stringContaining('0600') });
    await chmod(file, 0o604);
    await expect(readDatabasePassword(file, {})).rejects.toMatchObject({ code: 'GLIDEIN_ERR_KEY_FILE' });
  });
});
