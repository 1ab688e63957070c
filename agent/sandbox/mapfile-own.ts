// glidein's own mapfile lines (issue 15 part 2), which HTCondor does not have: a multi-VO issuer
// (EGI Check-In) uses one `iss` for many communities, so these match a claim value of one issuer:
//   GROUP <issuer> <group> <account>                 a `wlcg.groups` entry
//   ENTITLEMENT <issuer> <entitlement> <account>     an `eduperson_entitlement` value
//   SCOPE <issuer> <scope> <account>                 an item of the space-separated `scope`
// Issuer and value compare exactly (no regex, no prefix). Fields are separated by blanks; a field
// with blanks or starting with `"` is written in double quotes, where `\"` and `\\` are the only
// escapes. HTCondor reads such a line as a method of its own that it never looks up.

export type ClaimMethod = 'GROUP' | 'ENTITLEMENT' | 'SCOPE';

export const CLAIM_METHODS: ReadonlySet<string> = new Set(['GROUP', 'ENTITLEMENT', 'SCOPE']);

/** Blank-separated fields; `"…"` quotes a field, with `\"` and `\\` as its only escapes. */
export function splitFields(text: string): string[] | { error: string } {
  const fields: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ' || text[i] === '\t') {
      i++;
      continue;
    }
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) return { error: 'unterminated quoted field' };
        const c = text[i]!;
        if (c === '"') break;
        if (c === '\\') {
          const next = text[i + 1];
          if (next !== '"' && next !== '\\') return { error: `unknown escape '\\${next ?? ''}' in a quoted field (only \\" and \\\\)` };
          field += next;
          i += 2;
          continue;
        }
        field += c;
        i++;
      }
      i++;
      if (i < text.length && text[i] !== ' ' && text[i] !== '\t') return { error: 'a quoted field must end at a blank or the end of the line' };
      if (field === '') return { error: 'empty quoted field' };
    } else {
      while (i < text.length && text[i] !== ' ' && text[i] !== '\t') {
        if (text[i] === '"') return { error: "a '\"' inside an unquoted field" };
        field += text[i];
        i++;
      }
    }
    fields.push(field);
  }
  return fields;
}

/** The issuer, value and account of a claim line (its text after the method), or why not. */
export function parseClaimLine(method: ClaimMethod, rest: string): { issuer: string; value: string; account: string } | { error: string } {
  const fields = splitFields(rest.trim());
  const usage = `expected '${method} <issuer> <${method.toLowerCase()}> <account>'`;
  if (!Array.isArray(fields)) return { error: `${fields.error}; ${usage}` };
  if (fields.length !== 3) return { error: `${usage}, found ${fields.length} field${fields.length === 1 ? '' : 's'} after ${method}` };
  return { issuer: fields[0]!, value: fields[1]!, account: fields[2]! };
}
