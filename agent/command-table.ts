// The one table of glidein's commands: the entry point dispatches through it, and the --help
// usage lines, the "unknown command ... expected ..." messages and the README's commands table
// (checked by test/command-table.test.ts) are all made from it (issue 27 section 2).
// Modules load lazily, so `--version` and `--help` stay as fast as a bare runtime start.
import type { CommandModule } from './command.ts';

export interface CommandRow {
  /** `validate`, or `refresh-service serve` for a subcommand of a group. */
  name: string;
  /** The flags after the name, as the usage line shows them. */
  synopsis: string;
  /** What it does: one line for the README table. */
  summary: string;
  load: () => Promise<CommandModule>;
  /** Started by glidein itself (the sandbox, HTCondor): in no list a user reads. */
  internal?: true;
}

export const COMMAND_TABLE: readonly CommandRow[] = [
  { name: 'validate', synopsis: '[--format table|json|classad|xml] [--require KEY=VALUE]... [--workdir DIR] [--policy FILE [--as ACCOUNT]...] [--glidein-config FILE]', summary: 'check the worker node (with `--policy`: and its identity switch; with `--glidein-config`: as a GlideinWMS custom script)', load: () => import('./commands/validate.ts') },
  { name: 'exec', synopsis: '--job FILE [--policy FILE] [--container-mode MODE] [--default-image IMAGE]', summary: 'run one job spec through the sandbox, print its result', load: () => import('./commands/exec.ts') },
  { name: 'run', synopsis: '--bundle FILE [--workdir DIR] [--policy FILE] [--idle-timeout SECONDS] (--spool DIR | --condor [DIR] | -- COMMAND [ARG...])', summary: 'run the pilot', load: () => import('./commands/run.ts') },
  { name: 'refresh-service serve', synopsis: '--state DIR [--init] [--config FILE] [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE]', summary: 'serve the refresh protocol', load: () => import('../refresh-service/commands/serve.ts') },
  { name: 'refresh-service register', synopsis: '--state DIR [--config FILE] --glidein-id ID --entry NAME [--url URL]... [--lifetime SECONDS] [--client-name NAME] [--client-group GROUP] [--schedd NAME] [--cluster-id N] [--proc-id N]', summary: 'register a pilot; prints its bundle (`--lifetime` at least 60)', load: () => import('../refresh-service/commands/register.ts') },
  { name: 'refresh-service revoke', synopsis: '--state DIR [--config FILE] (--glidein-id ID | --entry NAME)', summary: 'revoke pilots', load: () => import('../refresh-service/commands/revoke.ts') },
  { name: 'refresh-service migrate', synopsis: '--config FILE', summary: "create or upgrade the shared PostgreSQL schema (the config's `database`)", load: () => import('../refresh-service/commands/migrate.ts') },
  { name: 'refresh-service pilots', synopsis: '--state DIR|--config FILE [--entry NAME] [--status live|draining|ended|revoked|expired|silent] [--format table|json]', summary: 'one row per pilot: status, refreshes, heartbeats, validation', load: () => import('../refresh-service/commands/pilots.ts') },
  { name: 'refresh-service entries', synopsis: '--state DIR|--config FILE [--format table|json]', summary: 'per-entry health and black holes', load: () => import('../refresh-service/commands/entries.ts') },
  { name: 'refresh-service rotate-key', synopsis: '--state DIR|--config FILE', summary: 'a new S-CRED signing key (running services pick it up)', load: () => import('../refresh-service/commands/rotate-key.ts') },
  { name: 'refresh-service init-key', synopsis: '[--config FILE]', summary: "a new HTCondor POOL key at the config's `poolSigningKeyFile` (0600; never overwrites)", load: () => import('../refresh-service/commands/init-key.ts') },
  { name: 'audit', synopsis: '[--file PATH] [--uid N | --account NAME | --sub SUB | --job ID | --pid PID [--at TIME]] [--since TIME] [--until TIME] [--format table|json]', summary: "the site's audit records: who ran which job, as which account, when (one row per job run)", load: () => import('./commands/audit.ts') },
  { name: 'demo', synopsis: '', summary: 'the whole system on this machine', load: () => import('./commands/demo.ts') },
  { name: 'wrapper', synopsis: 'SOCKET', summary: 'the sandbox wrapper', load: () => import('./sandbox/wrapper-main.ts'), internal: true },
  { name: 'condor-job-wrapper', synopsis: '', summary: "HTCondor's USER_JOB_WRAPPER", load: () => import('./commands/condor-job-wrapper.ts'), internal: true },
  { name: 'condor-prepare-job', synopsis: '', summary: "HTCondor's job preparation hook", load: () => import('./commands/condor-prepare-job.ts'), internal: true },
];

/** Group names: a first word that takes a subcommand (`refresh-service`). */
export const COMMAND_GROUPS: ReadonlySet<string> = new Set(COMMAND_TABLE.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!));

export function findCommand(name: string): CommandRow | undefined {
  return COMMAND_TABLE.find((c) => c.name === name);
}

/** `a, b or c` */
function orList(words: readonly string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}

/** The first words a user may type: `validate, exec, run, refresh-service or demo`. */
export function topLevelNames(): string[] {
  return [...new Set(COMMAND_TABLE.filter((c) => !c.internal).map((c) => c.name.split(' ')[0]!))];
}

/** The subcommands of a group: `serve`, `register`, … */
export function subcommandNames(group: string): string[] {
  return COMMAND_TABLE.filter((c) => !c.internal && c.name.startsWith(`${group} `)).map((c) => c.name.slice(group.length + 1));
}

export function expectedCommands(group?: string): string {
  return orList(group === undefined ? topLevelNames() : subcommandNames(group));
}

/** Split a synopsis at the spaces outside brackets: `[--tls-cert FILE --tls-key FILE]` stays whole. */
function synopsisWords(synopsis: string): string[] {
  const words: string[] = [];
  let depth = 0;
  let word = '';
  for (const ch of synopsis) {
    if (ch === '[' || ch === '(') depth++;
    if (ch === ']' || ch === ')') depth--;
    if (ch === ' ' && depth === 0) {
      if (word !== '') words.push(word);
      word = '';
    } else word += ch;
  }
  if (word !== '') words.push(word);
  return words;
}

/** `glidein NAME SYNOPSIS`, wrapped at `width` with continuation lines under the first flag. */
export function usageLine(row: CommandRow, indent = '', width = 100): string {
  const head = `${indent}glidein ${row.name}`;
  const pad = ' '.repeat(head.length + 1);
  const lines: string[] = [];
  let line = head;
  for (const w of synopsisWords(row.synopsis)) {
    if (line !== head && line.length + 1 + w.length > width) {
      lines.push(line);
      line = pad + w;
    } else line += ` ${w}`;
  }
  lines.push(line);
  return lines.join('\n');
}

/** The README's commands table (markdown), exactly. */
export function readmeCommandsTable(): string {
  const cell = (s: string) => s.replaceAll('|', '\\|');
  const rows = COMMAND_TABLE.filter((c) => !c.internal).map((c) => `| \`${cell(`glidein ${c.name} ${c.synopsis}`.trimEnd())}\` | ${cell(c.summary)} |`);
  return ['| command | what it does |', '| --- | --- |', ...rows, '| `glidein --version`, `glidein --help`, `glidein <command> --help` | |'].join('\n');
}
