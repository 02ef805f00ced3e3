// Shared by the restart tests: a program that reports its own creds, and running it.
import * as path from 'path';
import { native, type NativeSpawnOptions, type ThreadCreds } from '../../lib/native/binding';
import { publicAddon, publicNodeModules } from '../helpers/public';

/** The addon, copied where the reporter can load it under any uid. */
export const ADDON = publicAddon();

/** argv of a program that prints its thread creds (read by the addon, raw syscalls) as JSON. */
export const REPORTER: readonly string[] = [
  process.execPath,
  '-e',
  `const c=require(${JSON.stringify(ADDON)}).readThreadCreds();` +
    `process.stdout.write(JSON.stringify(c,(k,v)=>typeof v==='bigint'?'0x'+v.toString(16):v))`,
];

export interface Reported extends Omit<ThreadCreds, 'caps'> {
  caps: ThreadCreds['caps'];
}

export function parseReport(text: string): Reported {
  const o = JSON.parse(text, (k, v) => (typeof v === 'string' && v.startsWith('0x') ? BigInt(v) : v));
  return o as Reported;
}

/** Runs the native spawn with a pipe on stdout and collects it; resolves with the exit. */
export function nativeRun(
  opts: Omit<NativeSpawnOptions, 'onExit' | 'stdio' | 'files' | 'argv' | 'envp'> & {
    argv?: readonly string[];
    envp?: readonly string[];
  },
): Promise<{ code: number | null; signal: number | null; stdout: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const argv = opts.argv ?? REPORTER;
    let exit: { code: number | null; signal: number | null } | null = null;
    let out = '';
    let ended = false;
    const done = () => {
      if (exit && ended) resolve({ ...exit, stdout: out, pid: child.pid });
    };
    let child: ReturnType<ReturnType<typeof native>['spawn']>;
    try {
      child = native().spawn({
        ...opts,
        files: [argv[0]],
        argv,
        envp: opts.envp ?? [],
        stdio: ['ignore', 'pipe', 'inherit'],
        onExit: (code, signal) => {
          exit = { code, signal };
          done();
        },
      });
    } catch (e) {
      reject(e);
      return;
    }
    const net = require('net') as typeof import('net');
    const s = new net.Socket({ fd: child.stdio[1]!, readable: true, writable: false });
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('close', () => {
      ended = true;
      done();
    });
  });
}

/** Open fds of this process: number -> readlink target (an fd closed while listed is left out). */
export function fdTargets(): Map<number, string> {
  const fs = require('fs') as typeof import('fs');
  const out = new Map<number, string>();
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      out.set(Number(name), fs.readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // closed meanwhile (the readdir's own fd among them)
    }
  }
  return out;
}

/**
 * The fds open now that were not open (same number, same target) at `before`. Compared as sets,
 * not counts: a helper started by an earlier checkpoint may end meanwhile and close its socket,
 * which must neither hide a leak nor fail the check.
 */
export function newFds(before: Map<number, string>): string[] {
  const now = fdTargets();
  return [...now].filter(([fd, target]) => before.get(fd) !== target).map(([fd, target]) => `${fd} -> ${target}`);
}

/** Live children (zombies included) of this process's main thread, from /proc. */
export function childPids(): number[] {
  const fs = require('fs') as typeof import('fs');
  const txt = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim();
  // Only children of the main thread are listed there; the addon forks from the main thread.
  return txt ? txt.split(/\s+/).map(Number) : [];
}

/** The children now that were not there at `before` (one that ended meanwhile is no concern). */
export function newChildren(before: readonly number[]): number[] {
  return childPids().filter((pid) => !before.includes(pid));
}

/** A cheap reporter: the kernel's own view of the program, /proc/self/status. */
export const STATUS: readonly string[] = ['/bin/cat', '/proc/self/status'];

export interface StatusCreds {
  uids: number[];
  gids: number[];
  groups: number[];
  inh: bigint;
  prm: bigint;
  eff: bigint;
  bnd: bigint;
  amb: bigint;
  noNewPrivs: boolean;
}

export function parseStatus(text: string): StatusCreds {
  const line = (k: string) => {
    const m = new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(text);
    if (!m) throw new Error(`no ${k} in status`);
    return m[1].trim();
  };
  const nums = (k: string) => (line(k) ? line(k).split(/\s+/).map(Number) : []);
  const hex = (k: string) => BigInt(`0x${line(k)}`);
  return {
    uids: nums('Uid'),
    gids: nums('Gid'),
    groups: nums('Groups'),
    inh: hex('CapInh'),
    prm: hex('CapPrm'),
    eff: hex('CapEff'),
    bnd: hex('CapBnd'),
    amb: hex('CapAmb'),
    noNewPrivs: line('NoNewPrivs') === '1',
  };
}

/**
 * Compiles lib/ once into a private directory laid out like the package (dist/, build/ and
 * node_modules linked), for tests that must run the library in another process: the CLI, and
 * an unprivileged caller. Returns the package root.
 */
export function compiledPackage(name: string): string {
  const fs = require('fs') as typeof import('fs');
  const os = require('os') as typeof import('os');
  const path = require('path') as typeof import('path');
  const { execFileSync } = require('child_process') as typeof import('child_process');
  const repo = path.join(__dirname, '..', '..');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `cr-creds-${name}-`));
  fs.chmodSync(root, 0o755); // the unprivileged caller (uid 65534) loads it too
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(repo, 'tsconfig.build.json'), '--outDir', path.join(root, 'dist'), '--sourceMap', 'false', '--declaration', 'false'], { stdio: 'inherit' });
  // As the package's build does: each CLI command's modules in one bundle (its code cache is
  // made below, once the addon is in place).
  execFileSync(process.execPath, [path.join(repo, 'scripts', 'bundle-commands.js'), path.join(root, 'dist')], { stdio: 'inherit' });
  // Copies, not links, of what other uids load: the checkout may be readable by root only.
  fs.cpSync(path.join(repo, 'package.json'), path.join(root, 'package.json'));
  fs.mkdirSync(path.join(root, 'build', 'Release'), { recursive: true, mode: 0o755 });
  fs.cpSync(path.join(repo, 'build', 'Release', 'cr_creds.node'), path.join(root, 'build', 'Release', 'cr_creds.node'));
  publicNodeModules(root);
  execFileSync(process.execPath, [path.join(repo, 'scripts', 'train-code-cache.js'), path.join(root, 'dist')], { stdio: 'inherit' });
  for (const f of fs.readdirSync(__dirname).filter((n) => n.endsWith('.js'))) fs.cpSync(path.join(__dirname, f), path.join(root, f));
  fs.chmodSync(root, 0o755);
  return root;
}

/**
 * Runs `script` (a caller in this folder, copied into the compiled package `pkg`) with the
 * scenarios as a node process dropped to uid/gid 65534 (and `securebits`, set first while still
 * root); resolves with what it printed, parsed.
 */
export async function runAsNobody<T>(pkg: string, script: string, scenarios: object[], securebits = 0): Promise<T[]> {
  const NOBODY = 65534;
  const ops: import('../../lib/native/binding').NativeRestartOp[] = [];
  if (securebits) ops.push({ op: 'set_securebits', bits: securebits });
  ops.push({ op: 'setgroups', gids: [] }, { op: 'setresgid', rgid: NOBODY, egid: NOBODY, sgid: NOBODY }, { op: 'setresuid', ruid: NOBODY, euid: NOBODY, suid: NOBODY });
  const json = JSON.stringify(scenarios, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));
  const r = await nativeRun({
    ops,
    argv: [process.execPath, path.join(pkg, script), pkg, json],
    envp: ['PATH=/usr/bin:/bin'],
    expect: { uid: NOBODY, gid: NOBODY, groups: [], caps: { permitted: 0n, effective: 0n }, securebits: securebits || undefined },
  });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T[];
}
