// OS facts: distribution (os-release), kernel, architecture and the C library this process runs on.
import { machine } from 'node:os';
import { join } from 'node:path';
import { readText, type Host } from '../host.ts';

export interface OsFacts {
  distribution: string | null;
  versionId: string | null;
  prettyName: string | null;
  kernel: string | null;
  arch: string;
  glibc: string | null;
}

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if (/^(["']).*\1$/.test(v)) v = v.slice(1, -1).replace(/\\(["$`\\])/g, '$1');
    out[m[1]!] = v;
  }
  return out;
}

function glibcVersion(): string | null {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ?? null;
}

export async function collectOsFacts(host: Host): Promise<OsFacts> {
  const [etc, usr, kernel] = await Promise.all([
    readText(join(host.etcRoot, 'os-release')),
    host.etcRoot === '/etc' ? readText('/usr/lib/os-release') : Promise.resolve(undefined),
    readText(join(host.procRoot, 'sys', 'kernel', 'osrelease')),
  ]);
  const rel = parseOsRelease(etc ?? usr ?? '');
  return {
    distribution: rel.ID ?? null,
    versionId: rel.VERSION_ID ?? null,
    prettyName: rel.PRETTY_NAME ?? rel.NAME ?? null,
    kernel: kernel?.trim() || null,
    arch: machine(),
    glibc: glibcVersion(),
  };
}
