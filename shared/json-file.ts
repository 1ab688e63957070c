// Reading a JSON file given by a user (job spec, policy, service config): size-bounded, and
// every failure a GlideinError with the caller's code, naming the file and what is wrong.
import { readFile } from 'node:fs/promises';
import { GlideinError, errnoCode, type ErrorCode } from './errors.ts';

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
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new GlideinError(o.code, `${o.what} ${path} cannot be read (${errnoCode(cause) ?? String(cause)})`, { cause });
  }
  if (Buffer.byteLength(text) > o.maxBytes) {
    throw new GlideinError(o.code, `${o.what} ${path} is larger than ${o.maxBytes} bytes`);
  }
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
