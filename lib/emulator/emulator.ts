// The Emulator: tasks with real and effective creds in emulated user namespaces, the kernel's
// credential syscalls applied to them, checkpoint to a linux-cr image and restart from one, with
// every decision recorded and every object reference counted.
import { fullCapSet } from '../model/capabilities';
import type { CredOp, OpResult } from '../model/ops';
import type { Cred, User, UserNamespace } from '../model/types';
import type { Image } from '../format/types';
import { type CheckpointOptions, checkpointTasks } from './checkpoint';
import { EmulatorError, RestartDenied } from './errors';
import { Kernel } from './kernel';
import { type LiveObjects, ObjectTable } from './objects';
import { type KernelProfile, type ProfileName, resolveProfile } from './profile';
import { type RestartOutcome, type TaskOutcome, sysRestart } from './sys-restart';
import type { Step } from './step';
import type { Subordinate } from './userns';

export interface EmuTask {
  readonly id: number;
  /** task->real_cred */
  readonly cred: Cred;
  /** task->cred */
  readonly ecred: Cred;
  readonly noNewPrivs: boolean;
  readonly alive: boolean;
}

class Task implements EmuTask {
  alive = true;
  constructor(
    readonly id: number,
    public cred: Cred,
    public ecred: Cred,
    public noNewPrivs: boolean,
  ) {}
}

/** How the restarter may restart, beyond its creds. */
export interface RestartOptions {
  /**
   * newuidmap / newgidmap are usable by the restarter, with these subordinate ids: a map of the
   * first level that the restarter may not write itself is written by them when their own rules
   * allow it (lib/emulator/userns.ts helperMapRule). Absent: no helper (the kernel's rule alone).
   */
  subordinate?: Subordinate;
  /**
   * Judge only (default false): the outcome and steps, but no restored task is created (a
   * caller that only asks whether and how, such as a restart plan, of a million-task image).
   */
  judgeOnly?: boolean;
}

/** A restart's outcome; `restored` holds the new tasks when it succeeded (empty otherwise). */
export interface EmuRestartOutcome extends RestartOutcome {
  restored: EmuTask[];
}

export class Emulator {
  readonly profile: KernelProfile;
  readonly kernel: Kernel;
  readonly initNs: UserNamespace = Object.freeze({ creator: null });
  private readonly objects = new ObjectTable();
  private nextId = 1;
  private readonly rootUser: User;

  constructor(profile: KernelProfile | ProfileName = 'modern') {
    this.profile = resolveProfile(profile);
    this.kernel = new Kernel(this.profile, this.objects);
    // init_user_ns, root_user and init_groups live forever in the kernel: pinned here.
    this.rootUser = this.objects.user(0, this.initNs);
    this.objects.getUser(this.rootUser);
    this.objects.getGroups(this.objects.emptyGroups);
  }

  /** The user `uid` of `ns` (default: the initial namespace), one object per (ns, uid). */
  user(uid: number, ns: UserNamespace = this.initNs): User {
    return this.objects.user(uid, ns);
  }

  /** init: root, every capability, the initial user namespace. */
  initTask(): EmuTask {
    const full = fullCapSet(this.profile.lastCap);
    return this.spawnTask({
      uid: 0, euid: 0, suid: 0, fsuid: 0, gid: 0, egid: 0, sgid: 0, fsgid: 0,
      groups: this.objects.emptyGroups,
      user: this.rootUser,
      caps: { inheritable: 0n, permitted: full, effective: full, bounding: full, ambient: 0n },
      securebits: 0,
    });
  }

  /** A task running with `cred` (real and effective), e.g. one built with ImageBuilder. */
  spawnTask(cred: Cred, opts: { noNewPrivs?: boolean; ecred?: Cred } = {}): EmuTask {
    const ecred = opts.ecred ?? cred;
    const t = new Task(this.nextId++, cred, ecred, this.profile.noNewPrivs && (opts.noNewPrivs ?? false));
    this.objects.getCred(cred);
    this.objects.getCred(ecred);
    return t;
  }

  /** fork(): a child sharing the parent's creds. */
  forkTask(parent: EmuTask): EmuTask {
    const p = this.live(parent);
    return this.spawnTask(p.cred, { noNewPrivs: p.noNewPrivs, ecred: p.ecred });
  }

  /** exit(): drops the task's references. */
  exitTask(task: EmuTask): void {
    const t = this.live(task);
    t.alive = false;
    this.objects.putCred(t.cred);
    this.objects.putCred(t.ecred);
  }

  /**
   * One credential operation by `task`, as the kernel does it: checks against the task's current
   * (effective) cred, and on success the new cred replaces both real and effective (commit_creds).
   */
  apply(task: EmuTask, op: CredOp): OpResult & { step: Step } {
    const t = this.live(task);
    const r = this.kernel.apply(t.ecred, t.noNewPrivs, op);
    if (r.cred !== t.ecred || r.cred !== t.cred) {
      this.objects.getCred(r.cred, 2);
      if (t.cred === t.ecred) this.objects.putCred(t.cred, 2);
      else {
        this.objects.putCred(t.cred);
        this.objects.putCred(t.ecred);
      }
      t.cred = r.cred;
      t.ecred = r.cred;
    }
    t.noNewPrivs = r.noNewPrivs;
    r.step.task = t.id;
    return r.ok ? { ok: true, step: r.step } : { ok: false, errno: r.errno, step: r.step };
  }

  /** Applies ops in order, stopping at the first refusal. */
  applyAll(task: EmuTask, ops: readonly CredOp[]): { ok: boolean; errno?: string; steps: Step[] } {
    const steps: Step[] = [];
    for (const op of ops) {
      const r = this.apply(task, op);
      steps.push(r.step);
      if (!r.ok) return { ok: false, errno: r.errno, steps };
    }
    return { ok: true, steps };
  }

  checkpoint(tasks: EmuTask[], opts: CheckpointOptions = {}): { image: Image; bytes: Uint8Array } {
    return checkpointTasks(tasks.map((t) => this.live(t)), this.profile, opts);
  }

  /**
   * Restarts `image` on behalf of `restarter`. On success the restored tasks exist (outcome
   * .restored) and hold the only new references; on any refusal nothing built survives.
   */
  restart(image: Image, restarter: EmuTask, opts: RestartOptions = {}): EmuRestartOutcome {
    const r = this.live(restarter);
    const work = sysRestart(this.kernel, this.objects, image, { cred: r.ecred, noNewPrivs: r.noNewPrivs, subordinate: opts.subordinate });
    const restored: EmuTask[] = [];
    if (work.outcome.ok && !opts.judgeOnly) {
      for (const t of work.outcome.tasks as Extract<TaskOutcome, { ok: true }>[]) {
        restored.push(this.spawnTask(t.cred, { ecred: t.ecred, noNewPrivs: t.noNewPrivs }));
      }
    }
    work.release();
    return { ...work.outcome, restored };
  }

  /** restart(), throwing RestartDenied (every refused step in words) when refused. */
  restartOrThrow(image: Image, restarter: EmuTask, opts: RestartOptions = {}): EmuTask[] {
    const out = this.restart(image, restarter, opts);
    if (!out.ok) throw new RestartDenied(out.steps);
    return out.restored;
  }

  /** Reference-count totals of creds, users, namespaces and group lists. */
  liveObjects(): LiveObjects {
    return this.objects.live();
  }

  /** References held on one cred (tasks and namespaces count). */
  credRefs(cred: Cred): number {
    return this.objects.refs(cred);
  }

  private live(task: EmuTask): Task {
    if (!(task instanceof Task) || !task.alive) throw new EmulatorError('task.dead', `task ${task.id} is not a live task of this emulator`);
    return task;
  }
}
