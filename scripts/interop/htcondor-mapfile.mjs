#!/usr/bin/env node
// Measure HTCondor's answers for the mapfile table (test/sandbox/htcondor-mapfile-table.ts) with a
// real HTCondor install, no pool needed:
//   npx node scripts/interop/htcondor-mapfile.mjs /opt/htc/inst [--json]
// For each row it writes the mapfile (and its @include files) to a temporary directory, a config
// with TOOL_CLASSAD_USER_MAP_NAMES = t and CLASSAD_USER_MAPFILE_t = the mapfile, and one JSON ad
// per identity; `condor_status -ads:json` evaluates userMap("t.SCITOKENS", Input) for each
// (MapFile::ParseCanonicalizationFile with assume_hash = true, as HTCondor-CE's
// CERTIFICATE_MAPFILE_ASSUME_HASH_KEYS = True). It prints each row whose answers differ from the
// table's (or, with --json, every row's answers and log lines) and exits 1 if any differ.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TABLE } from '../../test/sandbox/htcondor-mapfile-table.ts';

const inst = process.argv[2];
if (!inst) {
  console.error('usage: htcondor-mapfile.mjs HTCONDOR_INSTALL_DIR [--json]');
  process.exit(2);
}
const asJson = process.argv.includes('--json');
const status = join(inst, 'bin', 'condor_status');
let version = '';

/** `-af Row Size Value` lines: Row, the byte length of the answer, then exactly that many bytes (a CR or newline included). */
function parseAnswers(out) {
  const answers = [];
  let i = 0;
  while (i < out.length) {
    const m = /^(\d+) (\d+|undefined) /.exec(out.slice(i));
    if (!m) throw new Error(`unexpected condor_status output at ${i}: ${JSON.stringify(out.slice(i, i + 80))}`);
    i += m[0].length;
    if (m[2] === 'undefined') {
      if (!out.startsWith('undefined\n', i)) throw new Error(`expected undefined at ${i}`);
      answers.push(null);
      i += 'undefined\n'.length;
    } else {
      answers.push(out.slice(i, i + Number(m[2])));
      i += Number(m[2]) + 1;
    }
  }
  return answers;
}

function measure(row) {
  const dir = mkdtempSync(join(tmpdir(), 'htc-mapfile-'));
  try {
    const mapfile = join(dir, 'mapfile');
    writeFileSync(mapfile, row.mapfile);
    for (const [rel, text] of Object.entries(row.files ?? {})) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    }
    const config = join(dir, 'condor_config');
    writeFileSync(config, `CONDOR_IDS = ${process.getuid()}.${process.getgid()}\nLOCAL_DIR = ${dir}\nLOG = ${dir}\nTOOL_CLASSAD_USER_MAP_NAMES = t\nCLASSAD_USER_MAPFILE_t = ${mapfile}\n`);
    const ads = join(dir, 'ads.json');
    writeFileSync(ads, JSON.stringify(row.cases.map(([iss, sub], i) => ({ MyType: 'Machine', Name: `row${String(i).padStart(3, '0')}`, Row: i, Input: `${iss},${sub}` }))));
    const env = { ...process.env, CONDOR_CONFIG: config };
    if (version === '') version = spawnSync(status, ['-version'], { env, encoding: 'latin1' }).stdout.split('\n')[0];
    const r = spawnSync(status, ['-debug', '-any', '-sort', 'Row', '-ads:json', ads, '-af', 'Row', 'size(userMap("t.SCITOKENS", Input))', 'userMap("t.SCITOKENS", Input)'], { env, encoding: 'latin1' });
    if (r.status !== 0) throw new Error(`condor_status exited ${r.status}: ${r.stderr}`);
    const answers = parseAnswers(r.stdout);
    const logged = r.stderr.split('\n').filter((l) => /ERROR/.test(l)).map((l) => l.replace(/^.*?ERROR/, 'ERROR').replaceAll(dir, '<dir>'));
    return { answers, logged };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let differ = 0;
const report = [];
for (const row of TABLE) {
  const { answers, logged } = measure(row);
  const recorded = row.cases.map((c) => c[2]);
  const same = JSON.stringify(answers) === JSON.stringify(recorded) && (row.logged === undefined || logged.some((l) => l.includes(row.logged)));
  if (!same) differ++;
  report.push({ name: row.name, answers, logged, same });
  if (!asJson && !same) console.log(`DIFFERS: ${row.name}\n  table:    ${JSON.stringify(recorded)} ${row.logged ?? ''}\n  htcondor: ${JSON.stringify(answers)} ${JSON.stringify(logged)}`);
}
if (asJson) console.log(JSON.stringify({ version, rows: report }, null, 1));
else console.log(`${version}: ${TABLE.length - differ} rows as in the table, ${differ} differ`);
process.exit(differ === 0 ? 0 : 1);
