// Makes the V8 code cache of one command bundle (scripts/build-split.mjs), compiled as the
// executable's loader compiles it, after setting the V8 flags that command runs under the way
// the command sets them (v8.setFlagsFromString, as agent/pilot/lean-runtime.ts does: V8 rejects
// a cache made under other flags, and one made with the same flags given on node's command line).
// Usage: node chunk-cache.mjs CHUNK.cjs OUT.cache [V8-FLAG...]
import { readFileSync, writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { Script } from 'node:vm';
import { wrapChunk } from './build-split.mjs';

const [chunk, out, ...flags] = process.argv.slice(2);
for (const flag of flags) setFlagsFromString(flag);
const script = new Script(wrapChunk(readFileSync(chunk, 'utf8')), { filename: chunk });
writeFileSync(out, script.createCachedData());
