// The fenced code block that follows a `<!-- test: NAME -->` marker in a document, so tests run
// or parse exactly what the documentation shows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths.ts';

export function docBlock(file: string, name: string): string {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const at = text.indexOf(`<!-- test: ${name} -->`);
  if (at === -1) throw new Error(`${file}: no <!-- test: ${name} --> marker`);
  const open = /```[a-z]*\n/.exec(text.slice(at));
  if (!open) throw new Error(`${file}: no code block after the ${name} marker`);
  const start = at + open.index + open[0].length;
  const end = text.indexOf('\n```', start);
  return text.slice(start, end + 1);
}
