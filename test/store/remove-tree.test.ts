import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTree } from '../../agent/store/index.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A temp dir with `outside/victim` (a file the removal must never reach) and an empty `tree/`. */
function setup(): { base: string; tree: string; outside: string; victim: string } {
  const base = mkdtempSync(join(tmpdir(), 'glstore-rt-'));
  dirs.push(base);
  const outside = join(base, 'outside');
  mkdirSync(outside);
  const victim = join(outside, 'victim');
  writeFileSync(victim, 'keep me');
  const tree = join(base, 'tree');
  mkdirSync(tree);
  return { base, tree, outside, victim };
}

describe('removeTree', () => {
  it('removes files, nested directories and symlinks, and leaves what the symlinks point to', async () => {
    const { tree, outside, victim } = setup();
    mkdirSync(join(tree, 'a/b/c'), { recursive: true });
    writeFileSync(join(tree, 'a/b/c/f'), 'x');
    writeFileSync(join(tree, 'top'), 'x');
    symlinkSync(outside, join(tree, 'a/to-dir'));
    symlinkSync(victim, join(tree, 'a/b/to-file'));
    await removeTree(tree);
    expect(existsSync(tree)).toBe(false);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
  });

  // When the swap happens: right after the parent was listed (the entry is a symlink by the
  // time it is opened), or while the walker holds the directory open (by path, a/sub/victim
  // then names outside/victim).
  it.for([
    ['right after its parent was listed', 'a', 'a/sub.real'],
    ['while it is being emptied', 'a/sub', 'a/moved'],
  ] as const)('a subdirectory swapped for a symlink %s is removed where it really is, the symlink never followed', async ([, when, movedTo]) => {
    const { tree, outside, victim } = setup();
    mkdirSync(join(tree, 'a/sub'), { recursive: true });
    writeFileSync(join(tree, 'a/sub/victim'), "the tree's own file of the same name");
    let swapped = false;
    await removeTree(tree, {
      onListed: (dir) => {
        if (dir !== when || swapped) return;
        renameSync(join(tree, 'a/sub'), join(tree, movedTo));
        symlinkSync(outside, join(tree, 'a/sub'));
        swapped = true;
      },
    });
    expect(swapped).toBe(true);
    expect(existsSync(tree)).toBe(false);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
  });

  it('removes a tree deeper than the descriptors it keeps open (500 levels)', async () => {
    const { tree } = setup();
    let d = tree;
    for (let i = 0; i < 500; i++) {
      d = join(d, 'd');
      mkdirSync(d);
      writeFileSync(join(d, 'f'), String(i));
    }
    await removeTree(tree);
    expect(existsSync(tree)).toBe(false);
  });

  it('a symlink given as the tree is unlinked, not followed; a path already gone is fine', async () => {
    const { base, outside, victim } = setup();
    const link = join(base, 'link');
    symlinkSync(outside, link);
    await removeTree(link);
    expect(existsSync(link)).toBe(false);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    await expect(removeTree(join(base, 'never-was'))).resolves.toBeUndefined();
  });
});
