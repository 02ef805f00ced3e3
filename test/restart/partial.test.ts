// A sandboxed restarter: this machine's root lacks CAP_SYS_RESOURCE in its bounding set, so an
// image of an ordinary host's root (every capability in every set) cannot come back whole. By
// default the restart is refused with nothing started; with allowPartial (--allow-partial) the
// rest is restored and every field left out is listed with its reason: in the plan report, on the
// handle, in the dry run and on the CLI's stderr. The kernel's view of the restarted process is
// checked against the list.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CAP, capBit, capNames, fullCapSet } from '../../lib/model';
import { ImageBuilder, encode } from '../../lib/format';
import { native } from '../../lib/native/binding';
import { RestartDenied, restart } from '../../lib/restart';
import { compiledPackage } from './helpers';

const me = native().readThreadCreds();
const isRoot = process.getuid?.() === 0 && (me.caps.effective & capBit(CAP.SETUID)) !== 0n;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the partial restart tests must not skip');
const rootTest = isRoot ? test : test.skip;
const FULL = fullCapSet(native().probe().capLastCap);
const LACKING = FULL & ~me.caps.bounding;
if (process.env.CI && LACKING === 0n) throw new Error("this test needs a caller whose bounding set lacks a capability (this machine's root lacks CAP_SYS_RESOURCE)");

/** An ordinary host's root: every capability in the permitted, effective and bounding sets. */
function hostRoot(noNewPrivs = false): Uint8Array {
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 0, caps: { permitted: FULL, effective: FULL, bounding: FULL, inheritable: capBit(CAP.SYS_RESOURCE) | capBit(CAP.CHOWN) } }), { noNewPrivs });
  return encode(b.build());
}

function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = l.match(/^(\w+):\s*(.*)$/);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

describe('allowPartial', () => {
  rootTest('refused by default, naming the option, with nothing started', () => {
    let err: unknown;
    try {
      restart(hostRoot(), '/bin/true', [], { stdio: 'ignore' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RestartDenied);
    const hint = (err as RestartDenied).steps.find((s) => s.rule === 'plan.partial-possible');
    expect(hint?.message).toMatch(new RegExp(`bounding ${capNames(LACKING).join(', ')}.*allowPartial \\(restart --allow-partial\\)`));
  });

  rootTest('restores the rest; the handle and the dry run list each field left out with the reason; the kernel agrees', async () => {
    const plan = restart(hostRoot(), '/bin/sleep', ['5'], { dryRun: true, allowPartial: true });
    const names = capNames(LACKING);
    expect(plan.unrestored.map((u) => [u.field, u.missing])).toEqual([['bounding', names], ['permitted', names], ['effective', names], ['inheritable', names]]);
    for (const u of plan.unrestored) expect(u.reason).toMatch(/bounding set|permitted set/);
    const h = restart(hostRoot(), '/bin/sleep', ['5'], { stdio: 'ignore', allowPartial: true, cwd: '/' });
    try {
      expect(h.unrestored).toEqual(plan.unrestored);
      const s = status(h.pid!);
      const hex = (v: bigint) => v.toString(16).padStart(16, '0');
      expect(s.CapBnd).toBe(hex(FULL & ~LACKING));
      expect(s.CapPrm).toBe(hex(FULL & ~LACKING));
      expect(s.CapInh).toBe(hex(capBit(CAP.CHOWN) & ~LACKING));
    } finally {
      h.kill('SIGKILL');
      await h;
    }
  });

  rootTest('a whole restart lists nothing', async () => {
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, caps: { bounding: me.caps.bounding } }));
    const h = restart(encode(b.build()), '/bin/true', [], { stdio: 'ignore', allowPartial: true, cwd: '/' });
    expect(h.unrestored).toEqual([]);
    expect((await h).exitCode).toBe(0);
  });
});

describe('restart --allow-partial (CLI)', () => {
  let pkg = '';
  let dir = '';
  beforeAll(() => {
    if (!isRoot) return;
    pkg = compiledPackage('partial');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-partial-'));
    fs.writeFileSync(path.join(dir, 'host-root.img'), hostRoot());
  }, 120000);
  afterAll(() => {
    if (pkg) fs.rmSync(pkg, { recursive: true, force: true });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [path.join(pkg, 'dist', 'cli', 'main.js'), 'restart', path.join(dir, 'host-root.img'), ...args], { encoding: 'utf8', cwd: '/' });

  rootTest('without it: exit 1, the refusal names the option', () => {
    const r = cli(['--', '/bin/true']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--allow-partial/);
  });

  rootTest('with it: the program runs, and stderr lists every field left out with the reason', () => {
    const r = cli(['--allow-partial', '--', '/bin/sh', '-c', 'grep CapBnd /proc/self/status']);
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines.map((l) => l.match(/^cr-creds: restarted without the image's (\w+) /)?.[1]).sort()).toEqual(['bounding', 'effective', 'inheritable', 'permitted']);
    for (const l of lines) expect(l).toContain(capNames(LACKING).join(', '));
  });

  rootTest('--dry-run shows the same list', () => {
    const r = cli(['--allow-partial', '--dry-run', '--', '/bin/true']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/not restored \(--allow-partial\):\n {2}bounding without [^]*?\n {2}permitted without [^]*?\n {2}effective without [^]*?\n {2}inheritable without /);
    const j = cli(['--allow-partial', '--dry-run', '--json', '--', '/bin/true']);
    expect(JSON.parse(j.stdout).unrestored.map((u: { field: string }) => u.field)).toEqual(['bounding', 'permitted', 'effective', 'inheritable']);
  });
});
