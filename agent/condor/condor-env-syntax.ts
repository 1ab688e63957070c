// A job's environment as HTCondor reads it from the job ad (src/condor_utils/env.cpp,
// Env::MergeFrom): `Environment` (V2: split_args words, single quotes group, '' is a literal
// quote; each word NAME=VALUE) wins over `Env` (V1: entries split at EnvDelim, ';' by default,
// or at a permitted delimiter the string starts with, and at newlines). A later entry of a name
// replaces an earlier one; an entry without '=' is an error, except an unexpanded $$() macro,
// which HTCondor keeps without a value (left out here).

/** The value of a string attribute in a job ad's text (one `Name = "value"` per line), or null. */
export function adString(text: string, name: string): string | null {
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*"(.*)"\s*$/.exec(line);
    if (m && m[1]!.toLowerCase() === name.toLowerCase()) {
      // ClassAd string escapes as the starter prints them: \" and \\ (others kept as written).
      return m[2]!.replace(/\\(["\\])/g, '$1');
    }
  }
  return null;
}

/** Whether the ad has the attribute at all (any value). */
export function adHas(text: string, name: string): boolean {
  return text.split('\n').some((line) => {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=/.exec(line);
    return m !== null && m[1]!.toLowerCase() === name.toLowerCase();
  });
}

function splitArgs(s: string): string[] {
  const out: string[] = [];
  let buf = '';
  let token = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "'") {
      token = true;
      const start = i++;
      for (;;) {
        if (i >= s.length) throw new Error(`unbalanced quote starting here: ${s.slice(start, start + 40)}`);
        if (s[i] === "'") {
          if (s[i + 1] === "'") {
            buf += "'";
            i += 2;
            continue;
          }
          break;
        }
        buf += s[i++];
      }
    } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (token) out.push(buf);
      buf = '';
      token = false;
    } else {
      token = true;
      buf += c;
    }
  }
  if (token) out.push(buf);
  return out;
}

const PERMITTED_DELIMS = "!#$%&*+,-/:;<>?@^`|~\x1F";

function splitV1(s: string, delimAttr: string | null): string[] {
  let delim = delimAttr && delimAttr.length > 0 ? delimAttr[0]! : ';';
  if (s.startsWith(delim)) s = s.slice(1);
  else if (s.length > 0 && PERMITTED_DELIMS.includes(s[0]!)) {
    delim = s[0]!;
    s = s.slice(1);
  }
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && ' \t\n\r'.includes(s[i]!)) i++;
    let entry = '';
    while (i < s.length && s[i] !== '\n' && s[i] !== delim) entry += s[i++];
    if (i < s.length) i++;
    if (entry) out.push(entry);
  }
  return out;
}

function setEntry(env: Record<string, string>, entry: string): void {
  const eq = entry.indexOf('=');
  if (eq < 0 && entry.includes('$$')) return;
  if (eq < 0) throw new Error(`missing '=' after environment variable '${entry.slice(0, 60)}'`);
  if (eq === 0) throw new Error(`missing variable name in '${entry.slice(0, 60)}'`);
  env[entry.slice(0, eq)] = entry.slice(eq + 1);
}

/** The job's environment from its ad's text; throws with HTCondor's reason when it cannot be parsed. */
export function jobEnvironment(adText: string): Record<string, string> {
  const env: Record<string, string> = {};
  const v2 = adString(adText, 'Environment');
  if (v2 !== null) {
    for (const e of splitArgs(v2)) setEntry(env, e);
    return env;
  }
  const v1 = adString(adText, 'Env');
  if (v1 !== null) for (const e of splitV1(v1, adString(adText, 'EnvDelim'))) setEntry(env, e);
  return env;
}
