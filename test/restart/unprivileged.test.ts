// An unprivileged caller (uid 65534, no capabilities) restarts an image of its own creds, and
// is refused, with nothing started, for everything it could not do itself. For each image the
// real kernel, asked directly with the same ops, agrees: it refuses the same requests.
import * as fs from 'fs';
import { CAP, SECBIT, capBit, fullCapSet } from '../../lib/model';
import { native } from '../../lib/native/binding';
import { compiledPackage, parseStatus, runAsNobody } from './helpers';

const me = native().readThreadCreds();
const isRoot = process.getuid?.() === 0 && (me.caps.effective & capBit(CAP.SETUID)) !== 0n;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the unprivileged-caller tests (which drop to 65534) must not skip');
const rootTest = isRoot ? test : test.skip;
const NOBODY = 65534;
const B = me.caps.bounding;
const FULL = fullCapSet(native().probe().capLastCap);

interface Result {
  name: string;
  started: boolean;
  code?: number;
  output?: string;
  denied?: boolean;
  refused?: string[];
  message?: string;
  childrenBefore: number;
  childrenAfter: number;
  kernel: { ok: boolean; bounding?: string; code?: string; phase?: string; op?: string; field?: string; planError?: string };
  emulator: { ok: boolean; bounding?: string; refused?: string[]; execUids?: number[]; execPermitted?: string };
}

let pkg = '';
beforeAll(() => {
  pkg = compiledPackage('unpriv');
}, 60000);
afterAll(() => pkg && fs.rmSync(pkg, { recursive: true, force: true }));

const own = { uid: NOBODY, gid: NOBODY, caps: { bounding: B } };

/** Runs the scenarios in a node process that drops to uid/gid 65534 (and optional securebits). */
const asNobody = (scenarios: object[], securebits = 0) => runAsNobody<Result>(pkg, 'unprivileged-caller.js', scenarios, securebits);

describe('an unprivileged caller (uid 65534)', () => {
  let results: Result[] = [];
  let locked: Result[] = [];
  beforeAll(async () => {
    if (!isRoot) return; // dropping to 65534 and back needs root (skipped below, never under CI)
    results = await asNobody([
      { name: 'own', cred: own },
      { name: 'uid 0', cred: { ...own, uid: 0 } },
      { name: 'foreign uid', cred: { ...own, uid: 1000 } },
      { name: 'foreign gid', cred: { ...own, gid: 1000 } },
      { name: 'group 0', cred: { ...own, groups: [0] } },
      { name: 'capability', cred: { ...own, caps: { bounding: B, permitted: capBit(CAP.NET_BIND_SERVICE) } } },
      { name: 'bounding bit', cred: { ...own, caps: { bounding: B | capBit(CAP.SYS_RESOURCE) } } },
      {
        name: 'ranged map',
        ns: { creator: NOBODY, uidMap: [{ inside: 0, outside: 100000, count: 65536 }], gidMap: [{ inside: 0, outside: NOBODY, count: 1 }], setgroups: 'deny' },
        cred: { uid: 0, gid: 0, caps: { bounding: FULL } },
      },
      {
        name: 'own map',
        ns: { creator: NOBODY, uidMap: [{ inside: 0, outside: NOBODY, count: 1 }], gidMap: [{ inside: 0, outside: NOBODY, count: 1 }], setgroups: 'deny' },
        cred: { uid: 0, gid: 0, caps: { bounding: FULL } },
      },
    ]);
    locked = await asNobody([{ name: 'clear a locked securebit', cred: { ...own, securebits: 0 } }], SECBIT.NOROOT | SECBIT.NOROOT_LOCKED);
  }, 60000);
  const byName = (n: string) => results.find((r) => r.name === n)!;

  rootTest('restarts an image of its own creds', () => {
    const r = byName('own');
    expect(r.started).toBe(true);
    expect(r.code).toBe(0);
    const s = parseStatus(r.output!);
    expect(s.uids).toEqual([NOBODY, NOBODY, NOBODY, NOBODY]);
    expect(s.gids).toEqual([NOBODY, NOBODY, NOBODY, NOBODY]);
    expect(r.kernel.ok).toBe(true);
  });

  rootTest('maps its own euid alone into a new namespace and runs as uid 0 inside', () => {
    const r = byName('own map');
    expect(r.started).toBe(true);
    const s = parseStatus(r.output!);
    expect(s.uids).toEqual([0, 0, 0, 0]);
    expect(r.output).toMatch(/^\s+0\s+65534\s+1$/m);
    expect(r.kernel.ok).toBe(true);
  });

  // The refused op of the played op list (its CredOp name), and the reason its message gives.
  // The bounding bit is no op the plan could run: every op is allowed, but the plan's result
  // lacks the bit, and that step ('restore plan') names the set and the bit.
  const refusals: [string, string, RegExp][] = [
    ['uid 0', 'setresuid', /setresuid\(0,0,0\) refused: .*lacks CAP_SETUID/],
    ['foreign uid', 'setresuid', /setresuid\(1000,.*\) refused: .*lacks CAP_SETUID/],
    ['foreign gid', 'setresgid', /setresgid\(1000,.*\) refused: .*lacks CAP_SETGID/],
    ['group 0', 'setgroups', /setgroups\(\[0\]\) refused: .*lacks CAP_SETGID/],
    ['capability', 'capset', /capset\(.*\) refused: the permitted set cannot gain .*net_bind_service/i],
    ['bounding bit', 'restore plan', /bounding capability set without CAP_SYS_RESOURCE.*the caller's bounding set lacks CAP_SYS_RESOURCE.*no call can add a bit back/],
    ['ranged map', 'unshare_user', /unshare\(CLONE_NEWUSER\): writing uid_map refused/],
  ];
  (isRoot ? test : test.skip).each(refusals)('is refused, with nothing started, for an image asking %s', (name, op, why) => {
    const r = byName(name);
    expect(r.started).toBe(false);
    expect(r.denied).toBe(true);
    expect(r.refused).toContain(op);
    expect(r.message).toMatch(why);
    expect(r.childrenAfter).toBe(r.childrenBefore);
    // The kernel, asked directly, refuses too; except the bounding bit, which it cannot add
    // back and silently leaves out (restart refuses to start a program without it).
    if (name === 'bounding bit') expect(BigInt(r.kernel.bounding!)).toBe(B);
    else expect(r.kernel.ok).toBe(false);
  });

  rootTest('is refused for clearing a locked securebit; so is the kernel', () => {
    const r = locked[0];
    expect([r.started, r.denied]).toEqual([false, true]);
    expect(r.refused).toContain('set_securebits');
    expect(r.message).toMatch(/PR_SET_SECUREBITS, 0x0\) refused: .*SECBIT_NOROOT\b.*locked/);
    expect(r.childrenAfter).toBe(r.childrenBefore);
    expect(r.kernel).toMatchObject({ ok: false, code: 'EPERM', op: 'set_securebits' });
  });

  rootTest('for every image, the emulator alone predicts what the kernel did (allowed or refused)', () => {
    const all = [...results, ...locked];
    const table = all.map((r) => [r.name, r.emulator.ok, r.kernel.ok]);
    expect(table).toEqual(all.map((r) => [r.name, r.kernel.ok, r.kernel.ok]));
    // Where both went through, they agree on the bounding set (a lacking bit stays absent).
    for (const r of all.filter((x) => x.kernel.ok)) expect([r.name, r.emulator.bounding]).toEqual([r.name, r.kernel.bounding]);
  });

  rootTest('where allowed, the emulator predicts the creds the program reported', () => {
    for (const name of ['own', 'own map']) {
      const r = byName(name);
      const s = parseStatus(r.output!);
      expect([name, r.emulator.execUids]).toEqual([name, s.uids]);
      expect([name, BigInt(r.emulator.execPermitted!)]).toEqual([name, s.prm]);
    }
  });

  rootTest('the kernel refuses at the step the judgement names', () => {
    expect(byName('uid 0').kernel).toMatchObject({ code: 'EPERM', op: 'setresuid' });
    expect(byName('foreign gid').kernel).toMatchObject({ code: 'EPERM', op: 'setresgid' });
    expect(byName('group 0').kernel).toMatchObject({ code: 'EPERM', op: 'setgroups' });
    expect(byName('capability').kernel).toMatchObject({ code: 'EPERM', op: 'capset' });
    expect(byName('ranged map').kernel).toMatchObject({ code: 'EPERM', op: 'unshare_user', field: 'uid_map' });
  });
});
