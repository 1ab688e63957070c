// Reading a JSON file given by a user (job spec, policy, service config): through safe-open, and
// every failure a GlideinError with the caller's code, naming the file and what is wrong.
import { GlideinError, type ErrorCode } from './errors.ts';
import { readFileSafely } from './safe-open.ts';

export interface JsonFileOptions {
  /** The error code for every failure (e.g. GLIDEIN_ERR_POLICY). */
  code: ErrorCode;
  /** What the file is, for messages ("job spec", "policy file", "config file"). */
  what: string;
  maxBytes: number;
  /** Refuse anything but a JSON object at the top. */
  object?: boolean;
}

export async function readJsonFile(path: string, o: JsonFileOptions): Promise<unknown> {
  // A FIFO, socket, device or directory is refused before a byte is read (safe-open.ts).
  const text = (await readFileSafely(path, { code: o.code, what: o.what, maxBytes: o.maxBytes })).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new GlideinError(o.code, `${o.what} ${path} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  if (o.object && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw new GlideinError(o.code, `${o.what} ${path}: expected a JSON object`);
  }
  return value;
}
