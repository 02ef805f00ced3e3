// One case both ways: the emulator (modern profile, the host's cap_last_cap, starting from the
// calling thread's creds) and the kernel (a forked child of this thread, native/agreement.cc),
// compared op by op (errno) and on the final creds, execve's result included.
import { Emulator, kernelId, type EmuTask } from '../emulator';
import { callerAsRestarter, profileFor } from '../emulator/caller';
import { idKey } from '../model/unmapped';
import type { CredOp, ExecFile } from '../model/ops';
import type { Cred } from '../model/types';
import { native, type NativeAgreementOp, type ThreadCreds } from '../native/binding';
import { AgreementError } from './errors';
import { type DiskFile, ReporterFiles, parseReport } from './reporter';
import type { AgreementCase, CaseResult, CredSnapshot, Disagreement, Outcome } from './types';

/** A kernel id no generated map covers: the owner of a file whose owner the task cannot see. */
export const UNMAPPED_KERNEL_ID = 4000000;

export function snapshot(c: Cred, noNewPrivs: boolean): CredSnapshot {
  return {
    uid: c.uid, euid: c.euid, suid: c.suid, fsuid: c.fsuid,
    gid: c.gid, egid: c.egid, sgid: c.sgid, fsgid: c.fsgid,
    groups: [...c.groups.gids],
    caps: { ...c.caps },
    securebits: c.securebits ?? 0,
    noNewPrivs,
  };
}

/** Field-by-field differences ('groups', 'caps.permitted', ...). */
export function diffCreds(k: CredSnapshot, e: CredSnapshot): Disagreement[] {
  const out: Disagreement[] = [];
  for (const f of ['uid', 'euid', 'suid', 'fsuid', 'gid', 'egid', 'sgid', 'fsgid', 'securebits', 'noNewPrivs'] as const) {
    if (k[f] !== e[f]) out.push({ index: -1, what: f, kernel: k[f], emulator: e[f] });
  }
  // The model keeps groups as the task sees them, strictly ascending; the kernel keeps them in
  // kernel-gid order, which in a namespace with a shifted map is not the order the task sees,
  // and two kernel gids that both show as 65534 are one shown group in the model (it keeps both
  // kernel gids apart, lib/model/unmapped.ts unmappedIds). Compared as sets.
  const kg = [...new Set(k.groups)].sort((a, b) => a - b);
  if (kg.join(',') !== e.groups.join(',')) out.push({ index: -1, what: 'groups', kernel: k.groups, emulator: e.groups });
  for (const f of ['inheritable', 'permitted', 'effective', 'bounding', 'ambient'] as const) {
    if (k.caps[f] !== e.caps[f]) out.push({ index: -1, what: `caps.${f}`, kernel: `0x${k.caps[f].toString(16)}`, emulator: `0x${e.caps[f].toString(16)}` });
  }
  return out;
}

/** The harness: one emulator profile for this host, one reporter build. */
export class AgreementHarness {
  readonly host: ThreadCreds;
  readonly lastCap: number;
  private readonly files: ReporterFiles;

  constructor(opts: { reporterDir?: string } = {}) {
    const b = native();
    this.host = b.readThreadCreds();
    this.lastCap = b.probe().capLastCap;
    this.files = new ReporterFiles(opts.reporterDir);
  }

  /** A fresh emulator and a task holding the host thread's creds. */
  private emulatorTask(): { emu: Emulator; task: EmuTask } {
    const emu = new Emulator(profileFor(this.lastCap));
    const h = this.host;
    const cred: Cred = { ...callerAsRestarter(h), user: emu.user(h.uid) };
    return { emu, task: emu.spawnTask(cred, { noNewPrivs: h.noNewPrivs }) };
  }

  /** What the kernel writes on disk for an ExecFile seen from `c` (ids as the task sees them). */
  diskFile(c: Cred, f: ExecFile | undefined): DiskFile {
    const ns = c.user.ns;
    const k = (id: number, kind: 'uid' | 'gid') => {
      const v = kernelId(ns, id, kind);
      return v < 0 ? UNMAPPED_KERNEL_ID : v;
    };
    // The owner id the file does not set: its own egid / euid, which the task can see unless it
    // shows as 65534 for want of a mapping (bprm_fill_uid ignores set-id bits unless both owner
    // ids are mapped; idKey < 0).
    const own = (f: 'euid' | 'egid', kind: 'uid' | 'gid') => (idKey(c, f) < 0 ? UNMAPPED_KERNEL_ID : k(c[f], kind));
    return {
      owner: { uid: f?.setuid ? k(f.setuid.uid, 'uid') : own('euid', 'uid'), gid: f?.setgid ? k(f.setgid.gid, 'gid') : own('egid', 'gid') },
      setuid: !!f?.setuid,
      setgid: !!f?.setgid,
      ...(f?.fileCaps ? { fileCaps: { ...f.fileCaps } } : {}),
    };
  }

  run(c: AgreementCase): CaseResult {
    const all = [...c.start, ...c.ops];
    const execAt = all.findIndex((o) => o.op === 'execve');
    if (execAt >= 0 && execAt !== all.length - 1) throw new AgreementError('case.exec-not-last', 'an execve may only be the last op of a case');
    const exec = execAt >= 0 ? (all[execAt] as Extract<CredOp, { op: 'execve' }>) : undefined;
    const plain = (exec ? all.slice(0, -1) : all) as NativeAgreementOp[];

    // The emulator first: the exec file's on-disk owner follows from the creds before execve.
    const { emu, task } = this.emulatorTask();
    const eOut: Outcome[] = [];
    for (const op of plain) {
      const r = emu.apply(task, op);
      // setfs[ug]id cannot fail: the kernel side can only tell whether the fs id took.
      if (op.op === 'setfsuid') eOut.push(task.ecred.fsuid === op.fsuid ? null : 'EPERM');
      else if (op.op === 'setfsgid') eOut.push(task.ecred.fsgid === op.fsgid ? null : 'EPERM');
      else eOut.push(r.ok ? null : (r.errno ?? 'E?'));
    }
    const eCreds = snapshot(task.ecred, task.noNewPrivs);
    let eExec: CaseResult['emulator']['exec'];
    let disk: DiskFile | undefined;
    if (exec) {
      disk = this.diskFile(task.ecred, exec.file);
      // The owner id the set-id bits do not name, as the task sees it (-1: unmapped).
      const c0 = task.ecred;
      const owner = {
        ...(exec.file?.setuid ? {} : { uid: disk.owner.uid === UNMAPPED_KERNEL_ID ? -1 : c0.euid }),
        ...(exec.file?.setgid ? {} : { gid: disk.owner.gid === UNMAPPED_KERNEL_ID ? -1 : c0.egid }),
      };
      const file = exec.file && (exec.file.setuid || exec.file.setgid) ? { ...exec.file, owner } : exec.file;
      const r = emu.apply(task, { ...exec, ...(file ? { file } : {}) });
      eExec = r.ok ? { creds: snapshot(task.ecred, task.noNewPrivs) } : { error: r.errno };
    }

    const k = native().runCredOps(plain, disk ? { path: this.files.file(disk) } : undefined);
    let kExec: CaseResult['kernel']['exec'];
    if (exec) {
      const x = k.exec ?? {};
      kExec = x.error ? { error: x.error } : { creds: parseReport(x.output ?? '') };
    }

    const dis: Disagreement[] = [];
    plain.forEach((op, i) => {
      if (k.errors[i] !== eOut[i]) dis.push({ index: i, what: op.op, kernel: k.errors[i], emulator: eOut[i] });
    });
    dis.push(...diffCreds(k.creds, eCreds));
    if (exec) {
      const i = all.length - 1;
      if ((kExec?.error ?? null) !== (eExec?.error ?? null)) dis.push({ index: i, what: 'execve', kernel: kExec?.error ?? null, emulator: eExec?.error ?? null });
      else if (kExec?.creds && eExec?.creds) dis.push(...diffCreds(kExec.creds, eExec.creds).map((d) => ({ ...d, index: i, what: `execve ${d.what}` })));
    }
    return {
      agree: dis.length === 0,
      disagreements: dis,
      kernel: { outcomes: k.errors, creds: k.creds, ...(kExec ? { exec: kExec } : {}) },
      emulator: { outcomes: eOut, creds: eCreds, ...(eExec ? { exec: eExec } : {}) },
    };
  }
}
