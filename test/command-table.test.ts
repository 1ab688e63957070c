// One table of commands (agent/command-table.ts): the README's commands table, every usage text
// and the "unknown command" messages agree with it, so none of them can drift (issue 27 section 2).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMAND_TABLE, readmeCommandsTable, subcommandNames, topLevelNames } from '../agent/command-table.ts';
import { COMMAND_HELP, MAIN_HELP } from '../agent/help.ts';
import { ROOT } from './helpers/paths.ts';
import { runCli } from './helpers/run-cli.ts';

const PUBLIC = COMMAND_TABLE.filter((c) => !c.internal);
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

describe('the command table', () => {
  it("is the README's commands table, row for row", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Commands\n'));
    const table = section.slice(section.indexOf('| command |'), section.indexOf('\n\n', section.indexOf('| command |')));
    // On a mismatch the expected table is printed: paste it into the README.
    expect(table).toBe(readmeCommandsTable());
  });

  it('names migrate, pilots, entries, rotate-key, init-key and revoke --config', () => {
    expect(subcommandNames('refresh-service')).toEqual(['serve', 'register', 'revoke', 'migrate', 'pilots', 'entries', 'rotate-key', 'init-key']);
    expect(readmeCommandsTable()).toContain('`glidein refresh-service revoke --state DIR [--config FILE] (--glidein-id ID \\| --entry NAME)`');
  });

  it.each(PUBLIC.map((c) => [c.name, c] as const))("%s --help starts with the table's usage line", (name, row) => {
    const help = COMMAND_HELP[name]!;
    const usage = help.slice('Usage: '.length, help.indexOf('\n\n'));
    expect(help.startsWith('Usage: ')).toBe(true);
    expect(oneLine(usage)).toBe(oneLine(`glidein ${name} ${row.synopsis}`));
    expect(oneLine(MAIN_HELP)).toContain(oneLine(`glidein ${name} ${row.synopsis}`));
  });

  it('lists every command in --help and every subcommand in the group help', () => {
    for (const name of topLevelNames()) expect(MAIN_HELP).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    for (const sub of subcommandNames('refresh-service')) expect(COMMAND_HELP['refresh-service']).toContain(`glidein refresh-service ${sub}`);
  });

  it.each([
    [['frob'], "unknown command 'frob'; expected validate, exec, run, refresh-service, audit or demo"],
    [['refresh-service', 'frob'], "unknown command 'refresh-service frob'; expected serve, register, revoke, migrate, pilots, entries, rotate-key or init-key"],
  ])('the CLI answers %j with the commands of the table (exit 2)', async (args, message) => {
    const r = await runCli(args, { source: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('dispatches every row to a module with a run function', async () => {
    for (const row of COMMAND_TABLE) expect(typeof (await row.load()).run, row.name).toBe('function');
  });
});
