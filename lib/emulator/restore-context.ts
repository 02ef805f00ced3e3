// What one emulated sys_restart carries from object to object: the restarter as it was when the
// restart began (every change is authorized against it), the objhash (each image object restored
// once, its result kept, refusals included), the references held until the caller decides, and
// the steps judged so far, each tagged with the task being restored.
import type { Cred, GroupInfo, User, UserNamespace } from '../model/types';
import { credKernelId } from '../model/unmapped';
import type { Kernel } from './kernel';
import type { ObjectTable } from './objects';
import type { KernelProfile } from './profile';
import type { PlanRestarter } from './restore-plan';
import type { Step } from './step';
import type { Subordinate } from './userns';

/** The task that calls sys_restart. */
export interface SysRestarter extends PlanRestarter {
  /** newuidmap / newgidmap usable by the restarter, with its subordinate ids (see userns.ts). */
  subordinate?: Subordinate;
}

/** An object restored (v), or the errno that refused it. */
export type Result<T> = { ok: true; v: T } | { ok: false; errno: string };

export class RestoreContext {
  readonly p: KernelProfile;
  /** The restarter's cred, as it was when restart began. */
  readonly R: Cred;
  /** The restarter's kernel ids, including those behind ids its namespace leaves unmapped. */
  readonly Rkuids: number[];
  readonly Rkgids: number[];
  readonly steps: Step[] = [];
  // The objhash: image object -> what restoring it gave.
  readonly hashNs = new Map<UserNamespace, Result<UserNamespace>>();
  readonly hashUser = new Map<User, Result<User>>();
  readonly hashGroups = new Map<GroupInfo, Result<GroupInfo>>();
  readonly hashCred = new Map<Cred, Result<Cred>>();
  /** Releases of the references taken, in the order taken. */
  readonly holds: (() => void)[] = [];
  /** The image task being restored: the steps pushed now are its. */
  taskNo = 0;

  constructor(readonly kernel: Kernel, readonly objects: ObjectTable, readonly restarter: SysRestarter) {
    this.p = kernel.profile;
    this.R = restarter.cred;
    this.Rkuids = (['uid', 'euid', 'suid'] as const).map((f) => credKernelId(this.R, f));
    this.Rkgids = (['gid', 'egid', 'sgid'] as const).map((f) => credKernelId(this.R, f));
  }

  /** Records a step of the task being restored. */
  readonly push = (s: Step): Step => {
    s.task = this.taskNo;
    this.steps.push(s);
    return s;
  };

  /** Records a refused step; the refusal as a result. */
  readonly no = <T>(s: Step): Result<T> => {
    this.push(s);
    return { ok: false, errno: s.errno! };
  };
}
