// An unprivileged caller (uid 65534) restarts images whose first user namespace has ranged maps:
// the map writer runs newuidmap / newgidmap (shadow's uidmap package), allowed by a line of
// /etc/subuid and /etc/subgid this test adds for 65534 and removes afterwards (the files are
// restored byte for byte, whatever happens). Ranges outside the grant are refused with nothing
// started, as is everything ranged when the helpers are hidden; the emulator, given the same
// subordinate ids, predicts every outcome.
import * as fs from 'fs';
import { CAP, capBit, fullCapSet } from '../../lib/model';
import { native } from '../../lib/native/binding';
import { grantedRanges, parsePasswd, parseSubordinate } from '../../lib/restart/idmap-helpers';
import { firstLevelMaps, type MapHelpers } from '../../lib/restart/chain';
import { helperMapRule, rangeCovered } from '../../lib/emulator/userns';
import { compiledPackage, parseStatus, runAsNobody } from './helpers';
import { withSubidLock } from '../helpers/subids';

const me = native().readThreadCreds();
const isRoot = process.getuid?.() === 0 && (me.caps.effective & capBit(CAP.SETUID)) !== 0n;
const helpersInstalled = ['/usr/bin/newuidmap', '/usr/bin/newgidmap'].every((f) => fs.existsSync(f));
if (process.env.CI && !isRoot) throw new Error('CI runs as root: the newuidmap tests (which drop to 65534) must not skip');
if (process.env.CI && !helpersInstalled) throw new Error('CI installs uidmap (newuidmap/newgidmap): the newuidmap tests must not skip');
const live = isRoot && helpersInstalled ? test : test.skip;

const NOBODY = 65534;
const FULL = fullCapSet(native().probe().capLastCap);
const GRANT = `${NOBODY}:200000:65536\n`;
const FILES = ['/etc/subuid', '/etc/subgid'];

// --- pure parts: the subordinate files and newuidmap's range rule -------------------------------

describe('subordinate ids', () => {
  test('strict parse: comments and blank lines skipped, malformed lines reported and granting nothing', () => {
    const text = '# users\n\nalice:100000:65536\nbob:165536:65536\n1001:231072:10\nbad line\ncarol:0x10:5\ndave:5:0\neve:4294967290:10\n';
    const { entries, problems } = parseSubordinate(text, '/etc/subuid');
    expect(entries.map((e) => [e.owner, e.start, e.count, e.line])).toEqual([
      ['alice', 100000, 65536, 3],
      ['bob', 165536, 65536, 4],
      ['1001', 231072, 10, 5],
    ]);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^\/etc\/subuid:6: /);
  });

  test('a line grants by name, by uid, or by another name with the same uid; a uid without passwd entry by number only', () => {
    const passwd = parsePasswd('alice:x:1001:1001::/home/alice:/bin/sh\nalias:x:1001:1001::/:/bin/sh\nbob:x:1002:1002::/:/bin/sh\n');
    const { entries } = parseSubordinate('alice:100000:10\n1001:200000:10\nalias:300000:10\nbob:400000:10\n4242:500000:10\n');
    expect(grantedRanges(entries, { name: 'alice', uid: 1001 }, passwd).map((r) => r.start)).toEqual([100000, 200000, 300000]);
    expect(grantedRanges(entries, { name: null, uid: 4242 }, passwd).map((r) => r.start)).toEqual([500000]);
  });

  test("newuidmap's rule: every outer range within the subordinate ids (their union) or the caller's own id", () => {
    const sub = [{ start: 200000, count: 100 }, { start: 200100, count: 100 }];
    expect(rangeCovered(sub, 200050, 100)).toBe(true);
    expect(rangeCovered(sub, 200150, 100)).toBe(false);
    expect(helperMapRule([{ inside: 0, outside: 200000, count: 200 }, { inside: 200, outside: NOBODY, count: 1 }], 'uid', NOBODY, sub)).toEqual({ ok: true, setgroupsDeny: false });
    const no = helperMapRule([{ inside: 0, outside: 300000, count: 10 }], 'uid', NOBODY, sub);
    expect(no.ok).toBe(false);
    expect(!no.ok && no.why).toMatch(/300000\.\.300009.*\/etc\/subuid/);
    // newgidmap writes "deny" itself when no line came from /etc/subgid.
    expect(helperMapRule([{ inside: 0, outside: NOBODY, count: 1 }], 'gid', NOBODY, sub)).toEqual({ ok: true, setgroupsDeny: true });
  });

  test('the first level: who writes each map, and the refusal without helpers says newuidmap would', () => {
    const level = {
      creatorUid: NOBODY,
      ns: { creator: { uid: NOBODY, ns: { creator: null } }, uidMap: [{ inside: 0, outside: 200000, count: 10 }], gidMap: [{ inside: 0, outside: NOBODY, count: 1 }], setgroups: 'deny' as const },
    };
    const r = { uid: NOBODY, euid: NOBODY, gid: NOBODY, egid: NOBODY, noNewPrivs: false, caps: { effective: 0n } };
    const h = (path: string | null): MapHelpers => ({
      uid: { name: 'newuidmap', path, ranges: [{ start: 200000, count: 10 }], file: '/etc/subuid', ...(path ? {} : { unusable: 'not installed' }) },
      gid: { name: 'newgidmap', path, ranges: [], file: '/etc/subgid', ...(path ? {} : { unusable: 'not installed' }) },
    });
    expect(firstLevelMaps(level, r, h('/usr/bin/x'))).toEqual({ uid: 'helper', gid: 'caller', refused: [] });
    const without = firstLevelMaps(level, r, h(null));
    expect(without.refused.map((f) => f.rule)).toEqual(['uid-map']);
    expect(without.refused[0].message).toMatch(/newuidmap: not installed.*would write it where installed, with \/etc\/subuid granting/);
    expect(firstLevelMaps(level, { ...r, noNewPrivs: true }, h('/usr/bin/x')).refused[0].message).toMatch(/no_new_privs/);
  });
});

// --- live: uid 65534 with a temporary grant -------------------------------------------------------

interface Result {
  name: string;
  started: boolean;
  code?: number;
  output?: string;
  denied?: boolean;
  refused?: { op: string; rule: string; message: string }[];
  message?: string;
  error?: { name: string; code: string; phase: string; op: string; field?: string; actual?: string; message: string };
  childrenBefore: number;
  childrenAfter: number;
  emulator?: { ok: boolean; refused?: string[]; execUids?: number[]; execGids?: number[] };
}

const backups = new Map<string, { bytes: Buffer | null; st: fs.Stats | null }>();

function addGrant(): void {
  process.once('exit', restoreFiles); // should the worker die before afterAll
  for (const f of FILES) {
    const st = fs.existsSync(f) ? fs.statSync(f) : null;
    const bytes = st ? fs.readFileSync(f) : null;
    backups.set(f, { bytes, st });
    const sep = bytes && bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a ? '\n' : '';
    fs.appendFileSync(f, sep + GRANT);
  }
}

function restoreFiles(): void {
  for (const [f, b] of backups) {
    if (b.bytes === null || b.st === null) fs.rmSync(f, { force: true });
    else {
      fs.writeFileSync(f, b.bytes);
      fs.chmodSync(f, b.st.mode & 0o7777);
      fs.chownSync(f, b.st.uid, b.st.gid);
      fs.utimesSync(f, b.st.atime, b.st.mtime);
    }
  }
  backups.clear();
}

let pkg = '';

/** Runs the scenarios in a node process that drops to uid/gid 65534. */
const asNobody = (scenarios: object[]) => runAsNobody<Result>(pkg, 'newuidmap-caller.js', scenarios);

const own = { inside: 65536, outside: NOBODY, count: 1 };
const ranged = { inside: 0, outside: 200000, count: 65536 };
const level1 = (setgroups: 'allow' | 'deny') => ({ creator: NOBODY, uidMap: [ranged, own], gidMap: [ranged, own], setgroups });
const inside = { uid: 1000, gid: 1000, caps: { bounding: FULL } };
const HIDDEN = { idmapHelpers: { newuidmap: '/nonexistent/newuidmap', newgidmap: '/nonexistent/newgidmap' } };

/** "== FILE" sections of the reporter's output. */
function sections(out: string): Record<string, string> {
  const o: Record<string, string> = {};
  for (const part of out.split(/^== /m).slice(1)) {
    const nl = part.indexOf('\n');
    o[part.slice(0, nl)] = part.slice(nl + 1);
  }
  return o;
}
const mapLines = (text: string) => text.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));

describe('an unprivileged caller with /etc/subuid and /etc/subgid grants (newuidmap / newgidmap)', () => {
  let results: Result[] = [];
  const byName = (n: string) => results.find((r) => r.name === n)!;

  beforeAll(async () => {
    if (!isRoot || !helpersInstalled) return; // never under CI (see above)
    pkg = compiledPackage('newuidmap');
    // Other test files change these files too: one at a time.
    await withSubidLock(async () => {
      try {
        addGrant();
        results = await asNobody([
          { name: 'ranged deny', ns: [level1('deny')], cred: inside },
          { name: 'ranged allow', ns: [level1('allow')], cred: { ...inside, groups: [] } },
          {
            name: 'nested',
            ns: [level1('allow'), { creator: 0, uidMap: [{ inside: 0, outside: 1000, count: 10 }], gidMap: [{ inside: 0, outside: 1000, count: 10 }], setgroups: 'deny' }],
            cred: { uid: 5, gid: 6, caps: { bounding: FULL } },
          },
          { name: 'uid outside the grant', ns: [{ ...level1('deny'), uidMap: [{ inside: 0, outside: 300000, count: 65536 }] }], cred: inside },
          { name: 'gid outside the grant', ns: [{ ...level1('deny'), gidMap: [{ inside: 0, outside: 199990, count: 100 }] }], cred: inside },
          { name: 'own gid alone with allow', ns: [{ ...level1('allow'), gidMap: [{ inside: 0, outside: NOBODY, count: 1 }] }], cred: { ...inside, gid: 0 } },
          { name: 'helpers hidden', ns: [level1('deny')], cred: inside, options: HIDDEN },
          {
            name: 'newuidmap refuses',
            ops: [{ op: 'unshare_user', setgroups: 'deny', uidMap: [{ inside: 0, outside: 300000, count: 10 }], gidMap: [{ inside: 0, outside: NOBODY, count: 1 }], uidHelper: '/usr/bin/newuidmap' }],
          },
          {
            name: 'helper missing',
            ops: [{ op: 'unshare_user', uidMap: [ranged], uidHelper: '/nonexistent/newuidmap' }],
          },
        ]);
      } finally {
        restoreFiles();
      }
    });
  }, 240000);

  afterAll(() => {
    restoreFiles(); // again, in case beforeAll was interrupted between the two
    if (pkg) fs.rmSync(pkg, { recursive: true, force: true });
  });

  live('the grant is gone again: /etc/subuid and /etc/subgid hold their old bytes', () => {
    expect(backups.size).toBe(0);
    for (const f of FILES) expect(fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '').not.toContain(GRANT);
  });

  live.each(['ranged deny', 'ranged allow'])('%s: restarts with the ranged maps, the ids inside and setgroups as in the image', (name) => {
    const r = byName(name);
    expect([r.name, r.started, r.code, r.message]).toEqual([name, true, 0, undefined]);
    const s = sections(r.output!);
    const st = parseStatus(s['/proc/self/status']);
    expect(st.uids).toEqual([1000, 1000, 1000, 1000]);
    expect(st.gids).toEqual([1000, 1000, 1000, 1000]);
    expect(mapLines(s['/proc/self/uid_map'])).toEqual([[0, 200000, 65536], [65536, NOBODY, 1]]);
    expect(mapLines(s['/proc/self/gid_map'])).toEqual([[0, 200000, 65536], [65536, NOBODY, 1]]);
    expect(s['/proc/self/setgroups'].trim()).toBe(name === 'ranged deny' ? 'deny' : 'allow');
    expect(r.childrenAfter).toBe(r.childrenBefore);
  });

  live('a level below the helper-mapped one is created from inside it, with its own maps', () => {
    const r = byName('nested');
    expect([r.started, r.code, r.message]).toEqual([true, 0, undefined]);
    const s = sections(r.output!);
    const st = parseStatus(s['/proc/self/status']);
    expect(st.uids).toEqual([5, 5, 5, 5]);
    expect(st.gids).toEqual([6, 6, 6, 6]);
    // Seen from inside, the map is relative to the parent level.
    expect(mapLines(s['/proc/self/uid_map'])).toEqual([[0, 1000, 10]]);
    expect(s['/proc/self/setgroups'].trim()).toBe('deny');
  });

  live.each([
    ['uid outside the grant', 'uid-map-subordinate', /300000\.\.365535.*\/etc\/subuid/],
    ['gid outside the grant', 'gid-map-subordinate', /199990\.\.200089.*\/etc\/subgid/],
    ['own gid alone with allow', 'setgroups-deny', /newgidmap writes "deny"/],
    ['helpers hidden', 'uid-map', /newuidmap: not installed.*\/etc\/subuid granting/],
  ])('%s: refused with nothing started, the refusal naming why', (name, rule, why) => {
    const r = byName(name);
    expect([r.started, r.denied]).toEqual([false, true]);
    expect(r.childrenAfter).toBe(r.childrenBefore);
    const mine = r.refused!.filter((x) => x.op === 'unshare_user' && x.rule === rule);
    expect(mine.length).toBe(1);
    expect(mine[0].message).toMatch(why);
  });

  live('the emulator, given the subordinate ids restart found, predicts every outcome and the ids after execve', () => {
    const judged = results.filter((r) => r.emulator);
    expect(judged.map((r) => [r.name, r.emulator!.ok])).toEqual(judged.map((r) => [r.name, r.started]));
    for (const r of judged.filter((x) => x.started)) {
      const st = parseStatus(sections(r.output!)['/proc/self/status']);
      expect([r.name, r.emulator!.execUids, r.emulator!.execGids]).toEqual([r.name, st.uids, st.gids]);
    }
    // The emulator's own words name the same grant.
    expect(byName('uid outside the grant').emulator!.refused!.join('\n')).toMatch(/uid_map\.subordinate: .*newuidmap refuses uid_map: outer uids 300000\.\.365535/);
  });

  live('a refusing newuidmap comes back as a typed step error naming it and its exit status', () => {
    const r = byName('newuidmap refuses');
    expect(r.started).toBe(false);
    expect(r.error).toMatchObject({ name: 'RestartStepError', code: 'EPERM', phase: 'op', op: 'unshare_user', field: 'newuidmap: exit status 1', actual: '0x100' });
    expect(r.error!.message).toMatch(/unshare_user, newuidmap: exit status 1/);
    expect(r.childrenAfter).toBe(r.childrenBefore);
  });

  live('a helper that cannot be run comes back with the errno of its execve', () => {
    const r = byName('helper missing');
    expect(r.error).toMatchObject({ name: 'RestartStepError', code: 'ENOENT', phase: 'op', field: 'newuidmap: could not be run' });
    expect(r.childrenAfter).toBe(r.childrenBefore);
  });
});
