// The program an agreement case execs last: it prints the creds it runs with, read with the
// same syscalls as native/cred_state.cc (securebits included, which /proc/PID/status lacks).
// Built once per machine with the C compiler node-gyp needs anyway; files with the set-id bits
// and file capabilities a case asks for are copies of it, cached by their attributes.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ThreadCreds } from '../native/binding';
import { native } from '../native/binding';
import { AgreementError } from './errors';

const SOURCE = `#include <stdio.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>
int main(void) {
  unsigned r, e, s, gr, ge, gs;
  syscall(SYS_getresuid, &r, &e, &s);
  syscall(SYS_getresgid, &gr, &ge, &gs);
  unsigned fu = (unsigned)syscall(SYS_setfsuid, -1), fg = (unsigned)syscall(SYS_setfsgid, -1);
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {{0}};
  syscall(SYS_capget, &h, d);
  unsigned long long bnd = 0, amb = 0;
  for (int c = 0; c < 64; c++) {
    int b = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
    if (b < 0) break;
    if (b == 1) bnd |= 1ULL << c;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1) amb |= 1ULL << c;
  }
  static unsigned g[65536];
  int n = (int)syscall(SYS_getgroups, 65536, g);
  printf("R %u %u %u %u %u %u %u %u", r, e, s, fu, gr, ge, gs, fg);
  printf(" %llx %llx %llx %llx %llx",
         ((unsigned long long)d[1].inheritable << 32) | d[0].inheritable,
         ((unsigned long long)d[1].permitted << 32) | d[0].permitted,
         ((unsigned long long)d[1].effective << 32) | d[0].effective, bnd, amb);
  printf(" %d %d %d", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), n);
  for (int i = 0; i < n; i++) printf(" %u", g[i]);
  printf("\\n");
  return 0;
}
`;

/** What a file the harness execs looks like on disk (ids are kernel ids). */
export interface DiskFile {
  owner: { uid: number; gid: number };
  setuid: boolean;
  setgid: boolean;
  fileCaps?: { permitted: bigint; inheritable: bigint; effective: boolean; rootid?: number };
}

/** Builds the reporter and hands out copies with the attributes asked. */
export class ReporterFiles {
  private readonly dir: string;
  private readonly base: string;
  private readonly made = new Map<string, string>();

  constructor(dir?: string) {
    const hash = crypto.createHash('sha256').update(SOURCE).digest('hex').slice(0, 12);
    this.dir = dir ?? path.join(os.tmpdir(), `cr-creds-agreement-${process.getuid?.() ?? 0}-${hash}`);
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    // Reached by tasks of any uid, in any namespace: every level must be searchable.
    fs.chmodSync(this.dir, 0o755);
    this.base = path.join(this.dir, 'reporter');
    if (!fs.existsSync(this.base)) this.build();
  }

  private build(): void {
    const src = path.join(this.dir, 'reporter.c');
    fs.writeFileSync(src, SOURCE);
    const tmp = `${this.base}.${process.pid}`;
    try {
      // Static when libc.a exists: no loader paths to resolve under AT_SECURE.
      try {
        execFileSync('cc', ['-O2', '-static', '-o', tmp, src], { stdio: 'pipe' });
      } catch {
        execFileSync('cc', ['-O2', '-o', tmp, src], { stdio: 'pipe' });
      }
    } catch (e) {
      throw new AgreementError('reporter.build', `cannot compile the reporter with cc: ${(e as Error).message}`);
    }
    fs.chmodSync(tmp, 0o755);
    fs.renameSync(tmp, this.base);
  }

  /** A path to a reporter copy with exactly these attributes. */
  file(f: DiskFile): string {
    const key = JSON.stringify(f, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v));
    const known = this.made.get(key);
    if (known) return known;
    const name = crypto.createHash('sha256').update(key).digest('hex').slice(0, 16);
    const p = path.join(this.dir, `r-${name}`);
    const tmp = `${p}.${process.pid}`;
    fs.copyFileSync(this.base, tmp);
    // chown clears set-id bits and file caps: it goes first.
    fs.chownSync(tmp, f.owner.uid, f.owner.gid);
    fs.chmodSync(tmp, 0o755 | (f.setuid ? 0o4000 : 0) | (f.setgid ? 0o2000 : 0));
    if (f.fileCaps) native().setFileCaps(tmp, f.fileCaps);
    fs.renameSync(tmp, p);
    this.made.set(key, p);
    return p;
  }
}

/** Parses the reporter's line. */
export function parseReport(text: string): ThreadCreds {
  const w = text.trim().split(/\s+/);
  if (w[0] !== 'R' || w.length < 17) throw new AgreementError('reporter.output', `unexpected reporter output: ${JSON.stringify(text)}`);
  const n = (i: number) => Number(w[i]);
  const x = (i: number) => BigInt(`0x${w[i]}`);
  const ngroups = n(16);
  return {
    uid: n(1), euid: n(2), suid: n(3), fsuid: n(4), gid: n(5), egid: n(6), sgid: n(7), fsgid: n(8),
    groups: w.slice(17, 17 + ngroups).map(Number),
    caps: { inheritable: x(9), permitted: x(10), effective: x(11), bounding: x(12), ambient: x(13) },
    securebits: n(14),
    noNewPrivs: n(15) === 1,
  };
}
