// Request bodies: capped at MAX_BODY_BYTES while they stream in (a declared length over it is
// refused before reading), one content type, parsed into a plain object.
import type { IncomingMessage } from 'node:http';
import { MAX_BODY_BYTES } from '../../shared/protocol.ts';
import { HttpRefusal } from './refusal.ts';

async function readCapped(req: IncomingMessage, contentType: string): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpRefusal(413, 'payload_too_large', `body over ${MAX_BODY_BYTES} bytes`);
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== contentType) throw new HttpRefusal(400, 'invalid_request', `Content-Type must be ${contentType}`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw new HttpRefusal(413, 'payload_too_large', `body over ${MAX_BODY_BYTES} bytes`);
      chunks.push(chunk);
    }
  } catch (e) {
    if (e instanceof HttpRefusal) throw e;
    throw new HttpRefusal(400, 'invalid_request', 'the request body was cut off', 'aborted');
  }
  return Buffer.concat(chunks).toString('utf8');
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
