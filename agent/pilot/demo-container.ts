// The demo's container payload (issue 22): where bubblewrap (or Apptainer) and a static busybox are
// found, one job runs in a small image the demo builds from /bin/busybox (Debian busybox-static):
// no download. Otherwise the demo says what it skipped and why.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { findContainerRuntime } from '../sandbox/container-find.ts';

const APPLETS = ['sh', 'echo', 'pwd', 'ls', 'grep', 'wc', 'cat', 'id', 'tr'];
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'];

function staticBusybox(): string | null {
  for (const p of BUSYBOX) {
    try {
      // A dynamic busybox would need the host's libc inside the image.
      if (!readFileSync(p).subarray(0, 65536).includes(Buffer.from('ld-linux'))) return p;
    } catch {
      /* next */
    }
  }
  return null;
}

export type DemoContainer = { image: string; runtime: string } | { skipped: string };

/** Build the demo's image under `root`, or say why the container payload is skipped. */
export function prepareDemoContainer(root: string, env: NodeJS.ProcessEnv): DemoContainer {
  const runtime = findContainerRuntime('auto', env);
  if (!runtime) return { skipped: 'no container runtime found (apptainer, singularity or bwrap: apt-get install bubblewrap)' };
  const busybox = staticBusybox();
  if (!busybox) return { skipped: 'no static busybox to build the demo image from (apt-get install busybox-static)' };
  const image = join(root, 'image');
  mkdirSync(join(image, 'bin'), { recursive: true, mode: 0o755 });
  copyFileSync(busybox, join(image, 'bin', 'busybox'));
  chmodSync(join(image, 'bin', 'busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(image, 'bin', a));
  chmodSync(image, 0o755);
  return { image, runtime: runtime.name };
}

/** What the container payload prints: where it is and what it can see. */
export const DEMO_CONTAINER_SCRIPT =
  'echo "in a container: cwd $(pwd), HOME $HOME, uid $(id -u)"; echo "/ holds: $(ls / | tr "\\n" " ")"; ' +
  'echo "J-CRED at $BEARER_TOKEN_FILE: $(wc -c < "$BEARER_TOKEN_FILE") bytes"; echo "processes it can see: $(ls /proc | grep -c "^[0-9]")"';
