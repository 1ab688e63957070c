// Request bodies: capped at MAX_BODY_BYTES while they stream in (a declared length over it is
// refused before reading), one content type, parsed into a plain object (JSON) or a map of
// single-valued parameters (an HTML form, as OAuth 2.0 token requests are).
import type { IncomingMessage } from 'node:http';
import { MAX_BODY_BYTES } from '../../shared/protocol.ts';
import { HttpRefusal } from './refusal.ts';

async function readCapped(req: IncomingMessage, contentType: string): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpRefusal(413, 'payload_too_large', `body over ${MAX_BODY_BYTES} bytes`);
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== contentType) throw new HttpRefusal(400, 'invalid_request', `Content-Type must be ${contentType}`);
  return (await readBody(req)).toString('utf8');
}

/**
 * The body's bytes, read with the stream's events rather than `for await` (issue 27 section 5:
 * an async iterator per request costs the refresh path a few percent of its CPU: its promises,
 * end-of-stream watcher and destroy). Over MAX_BODY_BYTES the rest is discarded (the 413 goes
 * out with `connection: close`); a request cut off before its end is a 400.
 */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (e: HttpRefusal | undefined) => {
      req.off('data', onData).off('end', onEnd).off('error', onCut).off('close', onCut);
      if (e) reject(e);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      done(new HttpRefusal(413, 'payload_too_large', `body over ${MAX_BODY_BYTES} bytes`));
      req.resume(); // the rest is discarded; the 413 closes the connection
    };
    const onEnd = () => done(undefined);
    const onCut = () => done(new HttpRefusal(400, 'invalid_request', 'the request body was cut off', 'aborted'));
    if (req.readableEnded) return void resolve(Buffer.alloc(0));
    req.on('data', onData).on('end', onEnd).on('error', onCut).on('close', onCut);
  });
}

/** An `application/json` body that must be a JSON object. */
export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readCapped(req, 'application/json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HttpRefusal(400, 'invalid_request', 'body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpRefusal(400, 'invalid_request', 'body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/**
 * An `application/x-www-form-urlencoded` body (RFC 6749 section 3.2: no parameter more than
 * once; parameters sent without a value are treated as omitted).
 */
export async function readFormBody(req: IncomingMessage): Promise<Map<string, string>> {
  const params = new URLSearchParams(await readCapped(req, 'application/x-www-form-urlencoded'));
  const out = new Map<string, string>();
  for (const [k, v] of params) {
    if (out.has(k)) throw new HttpRefusal(400, 'invalid_request', `parameter ${k.slice(0, 64)} given more than once`);
    if (v !== '') out.set(k, v);
  }
  return out;
}
