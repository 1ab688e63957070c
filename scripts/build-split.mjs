// The executable's code in two layers (issue 27 section 5, cold start): the dispatch (agent/cli.ts
// and what it imports) is the single executable's main script, and each command's module, with
// everything it imports, is a bundle of its own, embedded as an SEA asset with its own V8 code
// cache and compiled only when that command runs. So `glidein --version` compiles and runs
// about 30 KB instead of the whole 790 KB bundle, and an agent role never compiles the service.
// A module the dispatch already holds (shared/errors.ts above all: `instanceof` must see one
// class) is not copied into a command's bundle: the command's bundle reads the dispatch's own
// module objects from a registry the loader fills before it runs a command.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REGISTRY = "globalThis[Symbol.for('glidein.dispatch-modules')]";
/** The source a command bundle is compiled from: a CommonJS function, as Node wraps modules. */
export const wrapChunk = (src) => `(function (exports, require, module, __filename, __dirname) {${src}\n})`;

/** esbuild options both layers share (from scripts/build.mjs). */
function common(base) {
  return { bundle: true, platform: 'node', target: 'node24', format: 'cjs', minifySyntax: true, legalComments: 'none', sourcemap: false, logLevel: 'warning', ...base };
}

/** The chunk id of a command module: its path under the repository, as a file name. */
const chunkId = (root, file) => relative(root, file).replace(/\.ts$/, '').replace(/[^A-Za-z0-9]+/g, '-');

/** The dispatch's build: each command module imported by command-table.ts becomes a stub that loads its chunk. */
function dispatchPlugin(root, commands, shared) {
  const table = join(root, 'agent', 'command-table.ts');
  return {
    name: 'glidein-dispatch',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.importer !== table || args.kind !== 'dynamic-import') return undefined;
        const file = resolve(args.resolveDir, args.path);
        commands.add(file);
        return { path: chunkId(root, file), namespace: 'glidein-command' };
      });
      b.onLoad({ filter: /.*/, namespace: 'glidein-command' }, (args) => ({
        contents: `import { loadChunk } from 'glidein:chunk-loader';\nexport const run = (argv, ctx) => loadChunk(${JSON.stringify(args.path)}).run(argv, ctx);\n`,
        loader: 'js',
        resolveDir: root,
      }));
      b.onResolve({ filter: /^glidein:chunk-loader$/ }, () => ({ path: 'chunk-loader', namespace: 'glidein-loader' }));
      b.onLoad({ filter: /.*/, namespace: 'glidein-loader' }, () => ({ contents: loaderSource(shared), loader: 'js', resolveDir: root }));
    },
  };
}

/** The loader in the dispatch: the registry of the dispatch's modules, then compile-and-run of a chunk. */
function loaderSource(shared) {
  const files = [...shared];
  return `import { getAsset } from 'node:sea';
import { Script } from 'node:vm';
import { dirname } from 'node:path';
${files.map((f, i) => `import * as m${i} from ${JSON.stringify(f)};`).join('\n')}
const modules = { ${files.map((f, i) => `${JSON.stringify(f)}: m${i}`).join(', ')} };
const loaded = new Map();
function asset(name) {
  try { return getAsset(name); } catch { return undefined; }
}
/** A command's bundle, compiled with its code cache (when V8 accepts it) and run once. */
export function loadChunk(id) {
  let exports = loaded.get(id);
  if (exports) return exports;
  ${REGISTRY} ??= modules;
  const src = getAsset(id + '.cjs', 'utf8');
  const cache = asset(id + '.cache');
  // The same text as wrapChunk in scripts/build-split.mjs, or V8 rejects the code cache.
  const script = new Script('(function (exports, require, module, __filename, __dirname) {' + src + '\\n})', { filename: __filename, cachedData: cache ? Buffer.from(cache) : undefined });
  if (process.env.GLIDEIN_DEBUG_CHUNKS === '1') process.stderr.write('glidein: chunk ' + id + (cache === undefined ? ' (no code cache)' : script.cachedDataRejected ? ' (code cache rejected)' : ' (code cache used)') + '\\n');
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require, module, __filename, dirname(__filename));
  loaded.set(id, module.exports);
  return module.exports;
}
`;
}

/** A command's build: the dispatch's modules come from the registry instead of being copied. */
function chunkPlugin(root, shared) {
  return {
    name: 'glidein-chunk',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        const file = resolve(args.resolveDir, args.path);
        return shared.has(file) ? { path: file, namespace: 'glidein-dispatch-module' } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'glidein-dispatch-module' }, (args) => ({ contents: `module.exports = ${REGISTRY}[${JSON.stringify(args.path)}];`, loader: 'js' }));
    },
  };
}

/**
 * Build the dispatch into `mainOut` and every command into `<chunkDir>/<id>.cjs` with its code
 * cache `<id>.cache` (made by scripts/chunk-cache.mjs under `cacheFlags(id)`, the V8 flags that
 * command switches to before it loads); returns the SEA assets by name.
 */
export async function buildSplit({ root, entry, mainOut, chunkDir, base, plugins, cacheFlags }) {
  // Pass 1 finds the command modules and what the dispatch holds; pass 2 builds it with its registry.
  const commands = new Set();
  const probe = await build(common({ ...base, entryPoints: [entry], write: false, metafile: true, outfile: mainOut, plugins: [...plugins, dispatchPlugin(root, commands, new Set())] }));
  const shared = new Set(Object.keys(probe.metafile.inputs).filter((f) => !f.includes(':')).map((f) => resolve(root, f)));
  await build(common({ ...base, entryPoints: [entry], outfile: mainOut, plugins: [...plugins, dispatchPlugin(root, new Set(), shared)] }));
  const assets = {};
  for (const file of commands) {
    const id = chunkId(root, file);
    const out = join(chunkDir, `${id}.cjs`);
    await build(common({ ...base, entryPoints: [file], outfile: out, plugins: [...plugins, chunkPlugin(root, shared)] }));
    const cache = join(chunkDir, `${id}.cache`);
    execFileSync(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'chunk-cache.mjs'), out, cache, ...cacheFlags(id)], { stdio: ['ignore', 'ignore', 'inherit'] });
    assets[`${id}.cjs`] = out;
    assets[`${id}.cache`] = cache;
  }
  writeFileSync(join(chunkDir, 'chunks.json'), JSON.stringify({ commands: [...commands].map((f) => chunkId(root, f)), shared: [...shared].map((f) => relative(root, f)) }, null, 2));
  return assets;
}
