// Build: esbuild bundles the CLI into dist/glidein.cjs, then Node's single executable
// application support (SEA: --experimental-sea-config + postject) makes dist/glidein.
// node-pty's addon goes in as an SEA asset. The result must need glibc <= 2.28 (EL8).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, mkdirSync, writeFileSync, rmSync, statSync, existsSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSplit } from './build-split.mjs';
import { LEAN_AGENT_V8_FLAGS } from '../agent/pilot/lean-runtime.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// The executable embeds the Node that runs this script: the machine's own Node (20 here) would
// make one without process.execve or node:sqlite. npm scripts put the devDependency first on PATH.
const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor !== 24) {
  console.error(`build: needs Node 24 (the devDependency 'node'), not ${process.version} at ${process.execPath}; run 'npm run build'`);
  process.exit(2);
}
const dist = join(root, 'dist');
const MAX_GLIBC = [2, 28];
const bundleOnly = process.argv.includes('--bundle-only');

mkdirSync(dist, { recursive: true });
const ptyShim = join(root, 'agent', 'sandbox', 'pty-native.ts');

// Every intermediate file carries this process's pid and is renamed into place at the end, so
// builds started at the same time (parallel test runs) never see each other's half-written files.
const tag = `${process.pid}`;
const bundleTmp = join(dist, `glidein.${tag}.cjs`);
const blobTmp = join(dist, `sea-prep.${tag}.blob`);
const configTmp = join(dist, `sea-config.${tag}.json`);

const esbuildBase = {
  define: { __GLIDEIN_BUNDLE__: 'true', 'import.meta.url': '__glidein_import_meta_url' },
  banner: { js: 'const __glidein_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
};
const plugins = [{
  name: 'node-pty-native',
  setup(b) {
    // node-pty finds its addon relative to its own files; point it at the SEA-aware loader.
    b.onResolve({ filter: /^\.\/utils$/ }, (args) =>
      /node-pty[\\/]lib/.test(args.importer) ? { path: ptyShim } : undefined);
  },
}];
// --bundle-only: one bundle of everything (runs under plain `node`). The executable: the dispatch
// as its main script and each command as an asset compiled when it runs (scripts/build-split.mjs).
const chunkTmp = join(dist, `chunks.${tag}`);
let chunkAssets = {};
if (bundleOnly) {
  await build({ entryPoints: [join(root, 'agent', 'cli.ts')], outfile: bundleTmp, bundle: true, platform: 'node', target: 'node24', format: 'cjs', minifySyntax: true, legalComments: 'none', sourcemap: false, logLevel: 'warning', ...esbuildBase, plugins });
} else {
  rmSync(chunkTmp, { recursive: true, force: true });
  mkdirSync(chunkTmp);
  // `glidein run` compiles its code after switching V8 to the lean runtime: its cache is made under those flags.
  chunkAssets = await buildSplit({ root, entry: join(root, 'agent', 'cli.ts'), mainOut: bundleTmp, chunkDir: chunkTmp, base: esbuildBase, plugins, cacheFlags: (id) => (id === 'agent-commands-run' ? [...LEAN_AGENT_V8_FLAGS] : []) });
}
console.error(`built dist/glidein.cjs (${(statSync(bundleTmp).size / 1024).toFixed(0)} KiB)`);
if (bundleOnly) {
  renameSync(bundleTmp, join(dist, 'glidein.cjs'));
  process.exit(0);
}

// EL8-compatible node-pty addon: compiled from node-pty's own source against the oldest symbol
// versions (scripts/pty-compat.h). N-API is ABI-stable, so the machine's Node headers serve.
function newestGlibc(file) {
  const text = execFileSync('objdump', ['-T', file], { maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const versions = [...new Set(text.match(/GLIBC_[0-9.]+/g) ?? [])].map((v) => v.slice(6).split('.').map(Number));
  return versions.sort((a, b) => (a[0] - b[0]) || ((a[1] ?? 0) - (b[1] ?? 0))).at(-1) ?? [0, 0];
}
const tooNew = (v) => v[0] > MAX_GLIBC[0] || (v[0] === MAX_GLIBC[0] && (v[1] ?? 0) > MAX_GLIBC[1]);

function buildCompatPty() {
  const out = join(dist, `pty.${tag}.node`);
  const headers = [process.env.npm_config_nodedir, join(dirname(process.execPath), '..'), '/usr/local', '/usr'].filter(Boolean)
    .map((d) => join(d, 'include', 'node')).find((d) => existsSync(join(d, 'node_api.h')));
  const libutil = ['/lib/x86_64-linux-gnu/libutil.so.1', '/lib64/libutil.so.1', '/usr/lib64/libutil.so.1'].find((f) => existsSync(f));
  if (!headers || !libutil) return undefined;
  try {
    execFileSync('g++', ['-shared', '-fPIC', '-O2', '-std=c++17', '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-fexceptions',
      '-include', join(root, 'scripts', 'pty-compat.h'), '-I', join(root, 'node_modules', 'node-addon-api'), '-I', headers,
      join(root, 'node_modules', 'node-pty', 'src', 'unix', 'pty.cc'), '-o', out, '-Wl,--no-as-needed', libutil], { stdio: ['ignore', 'ignore', 'ignore'] });
  } catch {
    return undefined;
  }
  if (tooNew(newestGlibc(out))) return undefined;
  const final = join(dist, 'pty.node');
  renameSync(out, final);
  return final;
}
const compatPty = buildCompatPty();
const ptyAddon = compatPty ?? join(root, 'node_modules', 'node-pty', 'build', 'Release', 'pty.node');
const ptyGlibc = existsSync(ptyAddon) ? newestGlibc(ptyAddon).join('.') : null;
if (!compatPty) console.error(`build: warning: could not build the EL8-compatible node-pty addon; embedding node-pty's own (needs GLIBC ${ptyGlibc}): tty jobs fail on older nodes`);
const seaConfig = {
  main: bundleTmp,
  output: blobTmp,
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  // Every process of the executable (issue 12, memory): a young generation of 1 MiB semi-spaces
  // instead of up to 16 MiB keeps the agent's committed heap near what it uses (about 2.5 MiB
  // less resident after three spool jobs). Set here because V8 sizes the heap before any code runs.
  execArgv: ['--max-semi-space-size=1'],
  // NODE_OPTIONS is never read (issue 21): HTCondor starts the job wrapper with the job's own
  // environment, so a job's NODE_OPTIONS='--require ./evil.js' would otherwise run as the pilot.
  // 'none' makes the executable take its options from execArgv above and nothing else.
  execArgvExtension: 'none',
  assets: { ...(existsSync(ptyAddon) ? { 'pty.node': ptyAddon } : {}), ...chunkAssets },
};
writeFileSync(configTmp, JSON.stringify(seaConfig, null, 2));
execFileSync(process.execPath, ['--experimental-sea-config', configTmp], { stdio: ['ignore', 'ignore', 'ignore'] });
rmSync(configTmp, { force: true });

const exe = join(dist, 'glidein');
const tmpExe = `${exe}.${tag}.tmp`;
rmSync(tmpExe, { force: true });
copyFileSync(process.execPath, tmpExe);
chmodSync(tmpExe, 0o755);
execFileSync(process.execPath, [join(root, 'node_modules', 'postject', 'dist', 'cli.js'), tmpExe, 'NODE_SEA_BLOB', blobTmp,
  '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { stdio: ['ignore', 'ignore', 'ignore'] });

// EL8 worker nodes have glibc 2.28: refuse an executable that needs anything newer.
const newest = newestGlibc(tmpExe);
if (tooNew(newest)) {
  rmSync(tmpExe, { force: true });
  rmSync(blobTmp, { force: true });
  console.error(`build: dist/glidein needs GLIBC_${newest.join('.')}, newer than ${MAX_GLIBC.join('.')}`);
  process.exit(1);
}
rmSync(blobTmp, { force: true });
renameSync(tmpExe, exe);
renameSync(bundleTmp, join(dist, 'glidein.cjs'));
rmSync(join(dist, 'chunks'), { recursive: true, force: true });
renameSync(chunkTmp, join(dist, 'chunks'));
const size = statSync(exe).size;
writeFileSync(join(dist, 'build-info.json'), JSON.stringify({ glibcMax: newest.join('.'), size, node: process.versions.node, ptyAsset: existsSync(ptyAddon), ptyGlibcMax: ptyGlibc, ptyCompat: Boolean(compatPty) }) + '\n');
console.error(`built dist/glidein (${(size / 1048576).toFixed(1)} MiB, needs GLIBC ${newest.join('.')})`);
