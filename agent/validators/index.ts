// Every node check, in report order (DESIGN.md section 6).
import type { Validator } from '../validate/validator.ts';
import { cores } from './cores.ts';
import { memory } from './memory.ts';
import { disk } from './disk.ts';
import { gpu } from './gpu.ts';
import { cvmfs } from './cvmfs.ts';
import { container } from './container.ts';
import { os } from './os.ts';
import { permissions } from './permissions.ts';
import { identity } from './identity.ts';

export const VALIDATORS: readonly Validator<any>[] = [cores, memory, disk, gpu, cvmfs, container, os, permissions, identity];
