// Tables longer than the terminal go through a pager ($PAGER, else `less -FRX`), as git does;
// piped output and short tables are written as they are. No pager found: written as is.
import { spawn } from 'node:child_process';
import type { CommandContext } from '../../agent/command.ts';

export async function writePaged(text: string, ctx: CommandContext): Promise<void> {
  const rows = (ctx.stdout as { rows?: number }).rows ?? 24;
  const pager = ctx.env['PAGER'] ?? 'less -FRX';
  if (ctx.stdout.isTTY !== true || text.split('\n').length <= rows || pager === '' || pager === 'cat') {
    ctx.stdout.write(text);
    return;
  }
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('/bin/sh', ['-c', pager], { stdio: ['pipe', 'inherit', 'inherit'], env: { LESS: 'FRX', ...ctx.env } });
    child.on('error', () => resolve(127));
    child.on('close', (c) => resolve(c));
    child.stdin.on('error', () => undefined); // the pager quit early (q): fine
    child.stdin.end(text);
  });
  if (code === 127) ctx.stdout.write(text);
}
