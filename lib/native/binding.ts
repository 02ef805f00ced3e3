// The whole surface of the C++ addon, in one place (as node-pty's native.d.ts): every native
// function with its argument and result types. The rest of lib/ imports only this module.
import * as path from 'path';

export interface ProbeResult {
  sysname: string;
  release: string;
  version: string;
  machine: string;
  /** /proc/sys/kernel/cap_last_cap */
  capLastCap: number;
  userNamespaces: {
    maxUserNamespaces: number;
    canCreate: boolean;
    /** errno name when a user namespace could not be created */
    createError?: string;
  };
  linuxCr: {
    kallsymsReadable: boolean;
    /** sys_checkpoint present in /proc/kallsyms */
    sysCheckpoint: boolean;
    /** sys_restart present in /proc/kallsyms */
    sysRestart: boolean;
  };
}

/** A thread's credentials as the kernel reports them to that thread (native/cred_state.cc). */
export interface ThreadCreds {
  uid: number;
  euid: number;
  suid: number;
  fsuid: number;
  gid: number;
  egid: number;
  sgid: number;
  fsgid: number;
  groups: number[];
  caps: { inheritable: bigint; permitted: bigint; effective: bigint; bounding: bigint; ambient: bigint };
  securebits: number;
  noNewPrivs: boolean;
}

export interface NativeBinding {
  // --- probe (native/probe.cc) ---
  probe(): ProbeResult;

  // --- the calling thread's creds (native/cred_state.cc) ---
  readThreadCreds(): ThreadCreds;
}

let cached: NativeBinding | undefined;

/** Loads the addon (a prebuild under prebuilds/ if one fits, else build/Release). */
export function native(): NativeBinding {
  if (!cached) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const load = require('node-gyp-build') as (dir: string) => NativeBinding;
    cached = load(path.join(__dirname, '..', '..'));
  }
  return cached;
}
