// Shared by the hostile-input tests: a compiled CLI run as a process of its own (peak RSS and
// time measured inside it), and hostile but valid images.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ImageBuilder, encode } from '../../lib/format';
import { compiledPackage } from '../restart/helpers';

export { compiledPackage };

export interface Measured {
  code: number;
  maxRssKiB: number;
  /** Wall time of the command. */
  ms: number;
  /**
   * CPU time (user and system, all threads) of the command: what a time bound should judge on a
   * shared machine, where wall time grows with the load but work done does not.
   */
  cpuMs: number;
  stderr: string;
  /** stdout, unless it went to a file. */
  stdout: string;
}

/**
 * Runs `cr-creds ARGS` from the compiled package `pkg` in a node process of its own with
 * `nodeFlags` (e.g. a heap limit), stdout to `outFile` (or captured), killed after `timeoutMs`.
 */
export function measuredCli(pkg: string, args: string[], opts: { nodeFlags?: string[]; outFile?: string; timeoutMs?: number; stdin?: Buffer } = {}): Promise<Measured> {
  const runner = path.join(__dirname, 'measured-cli.js');
  const out = opts.outFile ? fs.openSync(opts.outFile, 'w') : 'pipe';
  const c = spawn(process.execPath, [...(opts.nodeFlags ?? []), runner, pkg, ...args], { stdio: [opts.stdin ? 'pipe' : 'ignore', out, 'pipe'], cwd: '/' });
  if (typeof out === 'number') fs.closeSync(out);
  if (opts.stdin) c.stdin!.end(opts.stdin);
  let stdout = '';
  let stderr = '';
  c.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  c.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 60000);
  return new Promise((resolve) => {
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      const m = /\nMEASURED (.*)\n$/.exec(stderr);
      const r = m ? JSON.parse(m[1]) : { code: code ?? -1, maxRssKiB: -1, ms: -1, cpuMs: -1, signal };
      resolve({ code: r.code, maxRssKiB: r.maxRssKiB, ms: r.ms, cpuMs: r.cpuMs, stderr: m ? stderr.slice(0, m.index) : `${stderr} [exit ${code} ${signal}]`, stdout });
    });
  });
}

/** A task whose user lives `depth` user namespaces below the root (each made by uid 0 of its parent). */
export function deepChainImage(depth: number): Uint8Array {
  const b = new ImageBuilder();
  let ns = b.rootNs;
  for (let i = 0; i < depth; i++) ns = b.namespace(b.user(0, ns), { uidMap: [{ inside: 0, outside: 0, count: 1 }], gidMap: [{ inside: 0, outside: 0, count: 1 }] });
  b.task(b.cred({ uid: 0, user: b.user(0, ns) }));
  return encode(b.build());
}

/** `n` tasks sharing one cred (40 bytes a task): a valid image of n processes. */
export function manyTasksImage(n: number, bounding = 0n): Uint8Array {
  const b = new ImageBuilder();
  const c = b.cred({ uid: 1000, gid: 1000, caps: { bounding } });
  for (let i = 0; i < n; i++) b.task(c, { pids: { vpid: i + 1, vppid: i === 0 ? 0 : 1, depth: i === 0 ? 0 : 1 } });
  return encode(b.build());
}
