// The launcher matrix's harness: start a process with a real launcher (setpriv, capsh, unshare,
// bwrap, runc), checkpoint it, stop it, restart it from the image (as root in this process, or as
// an unprivileged user through the CLI in a child dropped to that user), and compare what /proc
// shows of both, field by field. A mismatch fails with the whole comparison printed.
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkpoint } from '../../lib/checkpoint';
import { encode } from '../../lib/format';
import { restart, type RestartHandle } from '../../lib/restart';
import { withSubidLock } from '../helpers/subids';
import { compiledPackage } from '../restart/helpers';

/** Every launcher the matrix needs; under CI a missing one fails the test that needs it. */
export function requireTool(name: string): string {
  for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${name} is not installed: .ci/run installs it (the launcher matrix must not skip)`);
}

export const isRoot = process.getuid?.() === 0;
if (process.env.CI && !isRoot) throw new Error('CI runs as root: the launcher matrix must not skip');
/** Root-only tests: skipped only outside CI for a non-root developer. */
export const live = isRoot ? test : test.skip;

/** An unprivileged user with supplementary groups, as launchers and restarters run it. */
export interface User {
  uid: number;
  gid: number;
  groups: number[];
}
export const NOBODY: User = { uid: 65534, gid: 65534, groups: [] };

/** `setpriv` arguments that drop this (root) process's child to `u` (no capabilities left). */
export function asUser(u: User): string[] {
  return [
    requireTool('setpriv'), `--reuid=${u.uid}`, `--regid=${u.gid}`,
    u.groups.length ? `--groups=${u.groups.join(',')}` : '--clear-groups',
    '--inh-caps=-all', '--',
  ];
}

let scratch: string | undefined;
/** A world-readable temp directory of this test file (launcher output, images). */
function scratchDir(): string {
  if (!scratch) {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-launchers-'));
    fs.chmodSync(d, 0o755);
    scratch = d;
  }
  return scratch;
}
// Every test file that uses the harness removes it at its end.
afterAll(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
});

/** A number no other process's command line has: the target runs `sleep MARK`. */
export function marker(): string {
  return String(700000 + Math.floor(Math.random() * 200000));
}

/** Pids whose command line is exactly argv. */
export function pidsOf(argv: readonly string[]): number[] {
  const want = argv.join('\0') + '\0';
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/cmdline`, 'latin1') === want) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

export async function waitFor<T>(what: string, f: () => T | undefined, ms = 10000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A running process of the matrix and how to stop it (and what started it). */
export interface Running {
  pid: number;
  stop(): Promise<void>;
  /** Launcher output, for messages. */
  output(): string;
}

/**
 * Runs `argv` (which ends in `sleep MARK`) in its own process group, its output to a file;
 * resolves with the sleep's pid. `detaches`: the launcher exits once the sleep runs (runc --detach).
 */
export async function launch(argv: readonly string[], mark: string, opts: { cwd?: string; detaches?: boolean; target?: readonly string[] } = {}): Promise<Running> {
  const target = opts.target ?? ['sleep', mark];
  const log = path.join(fs.mkdtempSync(path.join(scratchDir(), 'launch-')), 'output');
  const fd = fs.openSync(log, 'w');
  let child: ChildProcess;
  try {
    child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], cwd: opts.cwd });
  } finally {
    fs.closeSync(fd);
  }
  const out = () => fs.readFileSync(log, 'utf8');
  let exited = false;
  const gone = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  let pid: number;
  try {
    pid = await waitFor(`${target.join(' ')} started by ${argv.join(' ')}`, () => {
      const found = pidsOf(target)[0];
      if (found === undefined && exited && !opts.detaches) throw new Error(`${argv.join(' ')} exited before its sleep ran: ${out()}`);
      return found;
    });
  } catch (e) {
    kill(child.pid!, true);
    for (const p of pidsOf(target)) kill(p, false);
    throw e;
  }
  return {
    pid,
    output: out,
    async stop() {
      kill(pid, false);
      kill(child.pid!, true);
      if (!exited) await gone;
    },
  };
}

function kill(pid: number, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** What the comparison reads of a process: /proc/PID/status fields and namespace files. */
export type Fields = Record<string, string>;

const STATUS = ['Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs'];

/** The fields, read by this (root) process, outside the task's namespaces ('PID/task/TID': a thread). */
export function readFields(pid: number | string): Fields {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const out: Fields = {};
  for (const k of STATUS) {
    const m = status.match(new RegExp(`^${k}:[ \\t]*(.*)$`, 'm'));
    out[k] = m ? m[1].trim().replace(/\s+/g, ' ') : '(absent)';
  }
  for (const f of ['uid_map', 'gid_map', 'setgroups'])
    out[f] = fs.readFileSync(`/proc/${pid}/${f}`, 'utf8').trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' ')).join('; ');
  out['userns depth'] = String(userNsDepth(pid));
  return out;
}

/**
 * How many user namespaces below ours the task is: NS_GET_PARENT (ioctl 0xb702) from its
 * /proc/PID/ns/user up to ours, walked by python3 so that the check does not lean on the addon.
 */
function userNsDepth(pid: number | string): number {
  const mine = fs.statSync('/proc/self/ns/user').ino;
  const py = `import os,fcntl\nfd=os.open('/proc/${pid}/ns/user',os.O_RDONLY)\nn=0\nwhile os.fstat(fd).st_ino!=${mine}:\n  try:\n    p=fcntl.ioctl(fd,0xb702)\n  except OSError:\n    n=-1;break\n  os.close(fd);fd=p;n+=1\nprint(n)`;
  const r = spawnSync('python3', ['-c', py], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`namespace depth of ${pid}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** The securebits of a task: read by checkpoint (over ptrace). */
async function securebits(pid: number): Promise<string> {
  const image = await checkpoint(pid);
  const sb = image.tasks[0].cred.securebits;
  return sb === null ? 'unknown' : `0x${sb.toString(16)}`;
}

export async function fieldsOf(pid: number): Promise<Fields> {
  // Securebits of the process's leader (checkpoint reads leaders); threads: readFields alone.
  return { ...readFields(pid), securebits: await securebits(pid) };
}

/** The field-by-field comparison as a table; the rows that differ are marked. */
export function comparison(a: Fields, b: Fields, labels: [string, string]): { table: string; differ: string[] } {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  const differ = keys.filter((k) => a[k] !== b[k]);
  const w = Math.max(...keys.map((k) => k.length));
  const rows = keys.map((k) => `${a[k] === b[k] ? '  ' : '≠ '}${k.padEnd(w)}  ${labels[0]}: ${a[k]}\n${' '.repeat(w + 4)}${labels[1]}: ${b[k]}`);
  return { table: rows.join('\n'), differ };
}

export function expectSame(a: Fields, b: Fields, what: string): void {
  const { table, differ } = comparison(a, b, ['original ', 'restarted']);
  if (differ.length) throw new Error(`${what}: restarted process differs from the original in ${differ.join(', ')}\n${table}`);
}

/** Restarts in this (root) process through the API: the program is `sleep MARK`. */
export function restartHere(bytes: Uint8Array, mark: string, task?: number): Running {
  const h: RestartHandle = restart(bytes, 'sleep', [mark], { stdio: 'ignore', cwd: '/', task });
  return {
    pid: h.pid!,
    output: () => '',
    async stop() {
      h.kill('SIGKILL');
      await h;
    },
  };
}

/**
 * Restarts as `u`: the CLI of the compiled package `pkg` run under setpriv as that user (no
 * capabilities), `cr-creds restart IMAGE -- sleep MARK`; resolves with the sleep's pid.
 */
export async function restartAs(u: User, pkg: string, imageFile: string, mark: string, extra: string[] = []): Promise<Running> {
  return launch([...asUser(u), process.execPath, path.join(pkg, 'dist', 'cli', 'main.js'), 'restart', imageFile, ...extra, '--', 'sleep', mark], mark, { cwd: '/' });
}

/** A world-readable image file in a fresh world-readable temp dir. */
export function imageFile(bytes: Uint8Array): string {
  const d = fs.mkdtempSync(path.join(scratchDir(), 'image-'));
  fs.chmodSync(d, 0o755);
  const f = path.join(d, 'image');
  fs.writeFileSync(f, bytes, { mode: 0o644 });
  return f;
}

/**
 * One row of the matrix: launch, read, checkpoint, stop; then each restarter in turn: restart,
 * read, stop, compare. Throws with the comparison on a difference.
 */
export async function roundTrip(
  name: string,
  start: (mark: string) => Promise<Running>,
  restarters: { label: string; run: (bytes: Uint8Array, mark: string) => Promise<Running> | Running }[],
): Promise<void> {
  const mark = marker();
  const orig = await start(mark);
  let before: Fields;
  let bytes: Uint8Array;
  try {
    before = await fieldsOf(orig.pid);
    bytes = encode(await checkpoint(orig.pid));
  } finally {
    await orig.stop();
  }
  for (const r of restarters) {
    const again = await r.run(bytes, mark);
    let after: Fields;
    try {
      after = await fieldsOf(again.pid);
    } finally {
      await again.stop();
    }
    expectSame(before, after, `${name}, restarted ${r.label}`);
  }
}

/**
 * Adds `lines` (NAME:START:COUNT) to /etc/subuid and /etc/subgid for the duration of `fn`, then
 * takes out exactly those lines again (other lines, another test's included, are left alone).
 */
export async function withSubordinateIds<T>(lines: string[], fn: () => Promise<T>): Promise<T> {
  return withSubidLock(() => withLines(lines, fn));
}

async function withLines<T>(lines: string[], fn: () => Promise<T>): Promise<T> {
  const files = ['/etc/subuid', '/etc/subgid'];
  const added: [string, string][] = [];
  try {
    for (const f of files) {
      const text = fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
      const have = new Set(text.split('\n'));
      const missing = lines.filter((l) => !have.has(l));
      if (!missing.length) continue;
      fs.appendFileSync(f, (text && !text.endsWith('\n') ? '\n' : '') + missing.map((l) => l + '\n').join(''));
      for (const l of missing) added.push([f, l]);
    }
    return await fn();
  } finally {
    for (const [f, l] of added) {
      const kept = fs.readFileSync(f, 'utf8').split('\n').filter((x) => x !== l);
      fs.writeFileSync(f, kept.join('\n'));
    }
  }
}

/** The restart done by this (root) process through the API. */
export const byRoot = { label: 'by root', run: restartHere };

/**
 * The restart done by `user` through the CLI of a compiled copy of the package (made before the
 * file's tests, removed after them): registers its beforeAll/afterAll.
 */
export function byUserRestarter(user: User, name: string): { label: string; run: (bytes: Uint8Array, mark: string) => Running | Promise<Running> } {
  let pkg = '';
  beforeAll(() => {
    if (process.getuid?.() === 0) pkg = compiledPackage(name);
  }, 120000);
  afterAll(() => {
    if (pkg) fs.rmSync(pkg, { recursive: true, force: true });
  });
  return {
    label: `by uid ${user.uid} with groups ${user.groups.join(',')}`,
    run: (bytes: Uint8Array, mark: string) => restartAs(user, pkg, imageFile(bytes), mark),
  };
}
