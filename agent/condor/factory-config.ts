// The factory's extra HTCondor settings (bundle `condor_config`): a few policy expressions the
// VO may shape (START, RANK …), and otherwise custom machine attributes, written as quoted
// literals and advertised through STARTD_ATTRS. A name that configures HTCondor itself
// (security, paths, programs, daemons, resources, what the agent sets) is refused: a bundle may
// describe the slot, never change how or as whom HTCondor runs. Every error is collected.
import { GlideinError } from '../../shared/errors.ts';
import type { FactoryValue } from './bundle-fields.ts';
import { ATTRIBUTE_NAME, classAdValue, unsafeValueReason } from './config-values.ts';

/** Policy expressions a factory may give; START is ANDed with the agent's own conditions. */
export const POLICY_EXPRESSIONS: ReadonlySet<string> = new Set(['START', 'RANK', 'PREEMPT', 'SUSPEND', 'CONTINUE', 'KILL', 'WANT_SUSPEND', 'WANT_VACATE', 'MAXJOBRETIREMENTTIME']);

// Names (or parts of names) that configure HTCondor rather than describe the slot.
const PROTECTED: readonly RegExp[] = [
  /^SEC_/, /_SEC_/, /^ALLOW_/, /^DENY_/, /^TRUST_DOMAIN$/, /^(COLLECTOR|CONDOR|NEGOTIATOR)_HOST$/, /^CCB_/, /^USE_SHARED_PORT$/, /^SHARED_PORT/,
  /HOOK/, /_CRON_/, /CRON$/, /^BENCHMARKS_/, /WRAPPER/, /EXECUTABLE/, /_(DIR|FILE|PATH|LOG|ARGS|ENVIRONMENT|ADDRESS|PORT|NAME)$/, /^(LOCAL_DIR|LOG|EXECUTE|SPOOL|LOCK|RUN|RELEASE_DIR|BIN|SBIN|LIB|LIBEXEC|ETC|INCLUDE)$/,
  /^LOCAL_CONFIG/, /^DAEMON_/, /_DAEMON_/, /^(MASTER|STARTD|STARTER|SCHEDD|SHADOW|COLLECTOR|NEGOTIATOR|PROCD|KBDD|CREDD|GRIDMANAGER|GAHP|PREEN|SSH_TO_JOB|DOCKER|SINGULARITY|APPTAINER)(_|$)/,
  /^(NUM_CPUS|MEMORY|DISK|SWAP|NUM_SLOTS|SLOT_TYPE|MACHINE_RESOURCE|STARTD_DETECT|GPU|USE_)/, /^(CONDOR_IDS|CONDOR_ADMIN|UID_DOMAIN|FILESYSTEM_DOMAIN|STARTER_|SLOT\d*_USER|DEDICATED_EXECUTE)/,
  /^(STARTD_ATTRS|STARTD_EXPRS|STARTD_NOCLAIM_SHUTDOWN|STARTD_NAME|MASTER_NAME|NETWORK_|BIND_ALL|PRIVATE_NETWORK|TCP_|UPDATE_|IS_OWNER)/,
  /^GLIDEIN_(Site|Entry_Name|Name|ToRetire|ToDie|Retired|Refused|Validation|Factory_Start)/i,
];

export interface FactoryConfig {
  /** `NAME = value` pairs, values ready to write. */
  entries: [string, string][];
  /** Names to add to STARTD_ATTRS. */
  attributes: string[];
  /** The factory's START expression, or null. */
  start: string | null;
}

/**
 * Why `text` would not stay one operand of the agent's `($(GLIDEIN_Factory_Start)) && …`, or
 * null. Outside string literals ("…" and quoted attribute names '…', with backslash escapes)
 * the parentheses must balance and never close one the expression did not open: `True) ||
 * (True` would otherwise turn the agent's conditions into an alternative. A comment could hide
 * a parenthesis from this count, so comments are refused too.
 */
export function notOneOperandReason(text: string): string | null {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== ch) j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) return `has an unterminated ${ch === '"' ? 'string literal' : 'quoted name'} (from character ${i + 1})`;
      i = j;
    } else if (ch === '/' && (text[i + 1] === '*' || text[i + 1] === '/')) {
      return 'contains a comment (it could hide a parenthesis)';
    } else if (ch === '(') {
      depth++;
    } else if (ch === ')' && --depth < 0) {
      return `closes a parenthesis it did not open (character ${i + 1}): it must stay one operand of the agent's own START conditions`;
    }
  }
  return depth === 0 ? null : `leaves ${depth} parenthesis(es) open: it must stay one operand of the agent's own START conditions`;
}

function isProtected(name: string): boolean {
  return PROTECTED.some((re) => re.test(name.toUpperCase()) || re.test(name));
}

/** Check the factory's settings; throws GLIDEIN_ERR_BUNDLE listing every bad one. */
export function checkFactoryConfig(extra: Readonly<Record<string, FactoryValue>>, where = 'bundle'): FactoryConfig {
  const errors: string[] = [];
  const out: FactoryConfig = { entries: [], attributes: [], start: null };
  for (const [name, value] of Object.entries(extra)) {
    if (!ATTRIBUTE_NAME.test(name)) {
      errors.push(`${JSON.stringify(name)} is not a plain HTCondor name (a letter, then letters, digits or '_'; no subsystem prefix)`);
      continue;
    }
    const upper = name.toUpperCase();
    if (POLICY_EXPRESSIONS.has(upper)) {
      const text = typeof value === 'string' ? value : classAdValue(value);
      const why = unsafeValueReason(text) ?? (text.trim() === '' ? 'is empty' : null) ?? (upper === 'START' ? notOneOperandReason(text) : null);
      if (why) errors.push(`${name}: the expression ${why}`);
      else if (upper === 'START') out.start = text;
      else out.entries.push([upper, text]);
      continue;
    }
    if (isProtected(name)) {
      errors.push(`${name} configures HTCondor itself (security, paths, programs, daemons or resources) and may not be set by a bundle`);
      continue;
    }
    const why = typeof value === 'string' ? unsafeValueReason(value) : null;
    if (why) {
      errors.push(`${name}: the value ${why}`);
      continue;
    }
    out.entries.push([name, classAdValue(value)]);
    out.attributes.push(name);
  }
  if (errors.length > 0) throw new GlideinError('GLIDEIN_ERR_BUNDLE', `${where}: condor_config: ${errors.join('; ')}`);
  return out;
}
