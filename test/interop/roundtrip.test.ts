// image -> export -> import -> image: equal on every field the format carries; and what a
// format cannot carry is listed, never silently dropped.
import fc from 'fast-check';
import { ImageBuilder, type Image } from '../../lib/format';
import { fromK8s, fromOci, fromSystemd, toBwrap, toK8s, toOci, toSetpriv, toSystemd, InteropError } from '../../lib/interop';
import { CAP, SECBIT, capBit, type Cred } from '../../lib/model';

const ALL = (1n << 41n) - 1n;
const cap41 = fc.bigInt({ min: 0n, max: ALL });
const id = fc.integer({ min: 0, max: 0xfffffffe });

interface Gen {
  uid: number;
  gid: number;
  groups: number[];
  caps: { inheritable: bigint; permitted: bigint; effective: bigint; bounding: bigint; ambient: bigint };
  securebits: number;
  nnp: boolean;
  userns?: { outside: number; count: number };
}

function imageOf(g: Gen, userns?: (b: ImageBuilder) => ReturnType<ImageBuilder['namespace']>): Image {
  const b = new ImageBuilder();
  const ns = userns ? userns(b) : g.userns ? b.namespace(b.user(0), { uidMap: [{ inside: 0, ...g.userns }], gidMap: [{ inside: 0, ...g.userns }] }) : b.rootNs;
  b.task(b.cred({ uid: g.uid, gid: g.gid, groups: g.groups, user: b.user(g.uid, ns), caps: g.caps, securebits: g.securebits }), { noNewPrivs: g.nnp });
  return b.build();
}

const base = {
  uid: id,
  gid: id,
  groups: fc.uniqueArray(id, { maxLength: 6 }),
  nnp: fc.boolean(),
};

/** The fields compared: ids, groups, five sets, securebits, nnp, the first namespace's maps. */
function carried(image: Image): Record<string, unknown> {
  const t = image.tasks[0];
  const c: Cred = t.cred;
  const ns = c.user.ns;
  return {
    ids: [c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid],
    groups: c.groups.gids,
    caps: c.caps,
    securebits: c.securebits,
    nnp: t.noNewPrivs,
    userns: ns.creator ? { creator: ns.creator.uid, uidMap: ns.uidMap, gidMap: ns.gidMap, depth: ns.creator.ns.creator ? 2 : 1 } : null,
  };
}

describe('OCI round trip', () => {
  test('uid, gid, groups, all five capability sets, no_new_privs and a first-level namespace come back equal', () => {
    fc.assert(
      fc.property(
        fc.record({ ...base, caps: fc.record({ inheritable: cap41, permitted: cap41, effective: cap41, bounding: cap41, ambient: cap41 }), userns: fc.option(fc.record({ outside: fc.integer({ min: 0, max: 1 << 30 }), count: fc.integer({ min: 1, max: 1 << 30 }) }), { nil: undefined }) }),
        (g) => {
          const image = imageOf({ ...g, securebits: 0 });
          const out = toOci(image);
          if (!g.userns) expect(out.unexpressed).toEqual([]);
          expect(carried(fromOci(JSON.parse(out.text)).image)).toEqual(carried(image));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('systemd round trip', () => {
  test('User, Group, SupplementaryGroups, bounding, ambient (= inheritable), SecureBits, NoNewPrivileges come back equal', () => {
    fc.assert(
      fc.property(fc.record({ ...base, bounding: cap41, ambient: cap41, securebits: fc.integer({ min: 0, max: 0x3f }), privateUsers: fc.boolean() }), (g) => {
        const ambient = g.ambient & g.bounding;
        const caps = { bounding: g.bounding, ambient, inheritable: ambient, permitted: g.uid === 0 ? g.bounding : ambient, effective: g.uid === 0 ? g.bounding : ambient };
        const pu = (x: number) => (x === 0 ? [{ inside: 0, outside: 0, count: 1 }] : [{ inside: 0, outside: 0, count: 1 }, { inside: x, outside: x, count: 1 }]);
        // PrivateUsers= maps only 0 and the service's gid: other groups would be unmapped.
        const groups = g.privateUsers ? g.groups.filter((x) => x === 0 || x === g.gid) : g.groups;
        const image = imageOf({ ...g, groups, caps }, g.privateUsers ? (b) => b.namespace(b.user(0), { uidMap: pu(g.uid), gidMap: pu(g.gid) }) : undefined);
        const out = toSystemd(image);
        expect(out.unexpressed).toEqual([]);
        const back = fromSystemd(out.text);
        expect(carried(back.image)).toEqual(carried(image));
      }),
      { numRuns: 300 },
    );
  });
});

describe('k8s round trip', () => {
  test('runAsUser, runAsGroup, supplementalGroups, capabilities (bounding = permitted = effective), allowPrivilegeEscalation come back equal', () => {
    fc.assert(
      fc.property(fc.record({ ...base, caps: cap41 }), (g) => {
        const nnp = g.nnp && (g.caps & capBit(CAP.SYS_ADMIN)) === 0n;
        const image = imageOf({ ...g, nnp, securebits: 0, caps: { bounding: g.caps, permitted: g.caps, effective: g.caps, inheritable: 0n, ambient: 0n } });
        const out = toK8s(image);
        expect(out.unexpressed).toEqual([]);
        expect(carried(fromK8s(out.value).image)).toEqual(carried(image));
      }),
      { numRuns: 300 },
    );
  });
});

describe('what a format cannot carry is listed', () => {
  const b = new ImageBuilder();
  const outer = b.namespace(b.user(1000), { uidMap: [{ inside: 0, outside: 1000, count: 1 }], gidMap: [{ inside: 0, outside: 1000, count: 1 }], setgroups: 'deny' });
  const inner = b.namespace(b.user(0, outer), { uidMap: [{ inside: 0, outside: 0, count: 1 }] });
  const real = b.cred({ uid: 5, euid: 6, suid: 7, fsuid: 8, gid: 5, sgid: 9, groups: [77], user: b.user(5, inner), caps: { inheritable: 1n, ambient: 2n, bounding: 1n << 50n }, securebits: SECBIT.NO_CAP_AMBIENT_RAISE | SECBIT.NOROOT });
  const eff = b.cred({ uid: 0, user: b.user(0, inner) });
  b.task(real, { ecred: eff });
  const lossy = b.build();
  const keys = (n: { what: string }[]) => [...new Set(n.map((x) => x.what))].sort();

  test.each([
    ['oci', () => toOci(lossy), ['caps-unnamed', 'ecred', 'ids-effective', 'ids-saved-fs', 'securebits', 'userns-creator', 'userns-nested', 'userns-setgroups']],
    ['systemd', () => toSystemd(lossy), ['caps-inheritable', 'caps-unnamed', 'ecred', 'groups-unmapped', 'ids-effective', 'ids-saved-fs', 'securebits', 'userns-creator', 'userns-maps', 'userns-nested']],
    ['k8s', () => toK8s(lossy), ['caps-ambient', 'caps-inheritable', 'caps-unnamed', 'ecred', 'ids-effective', 'ids-saved-fs', 'securebits', 'userns-maps']],
    ['setpriv', () => toSetpriv(lossy), ['caps-unnamed', 'ecred', 'ids-saved-fs', 'securebits', 'userns']],
    ['bwrap', () => toBwrap(lossy), ['caps', 'caps-bounding', 'caps-inheritable', 'ecred', 'groups', 'ids-effective', 'ids-saved-fs', 'no-new-privs', 'securebits', 'userns-creator', 'userns-maps', 'userns-nested']],
  ])('%s', (_name, fn, expected) => {
    expect(keys(fn().unexpressed)).toEqual(expected);
  });

  test('an unread securebits word is listed; a task that is not there is an error', () => {
    const b2 = new ImageBuilder();
    b2.task(b2.cred({ uid: 0, securebits: null }), { pids: { vpid: 42 } });
    const img = b2.build();
    expect(keys(toOci(img).unexpressed)).toEqual(['securebits-unknown']);
    expect(toOci(img, { pid: 42 }).task).toBe(0);
    expect(() => toOci(img, { pid: 43 })).toThrow(new InteropError('the image has no task with pid 43'));
    expect(() => toSystemd(img, { task: 1 })).toThrow(/task 1: the image has 1 task/);
  });
});

describe('imports: defaults and refusals', () => {
  test('systemd: ~ inverts, empty assignment resets, implied NoNewPrivileges, names refused', () => {
    const r = fromSystemd('[Unit]\nDescription=x\n[Service]\nUser=1000\nGroup=100\nCapabilityBoundingSet=~CAP_SYS_ADMIN\nAmbientCapabilities=CAP_KILL\nAmbientCapabilities=\nAmbientCapabilities=CAP_NET_BIND_SERVICE\nSystemCallFilter=@system-service\n');
    const c = r.image.tasks[0].cred;
    expect(c.caps.bounding).toBe(((1n << 41n) - 1n) & ~capBit(CAP.SYS_ADMIN));
    expect(c.caps.ambient).toBe(capBit(CAP.NET_BIND_SERVICE));
    expect(r.image.tasks[0].noNewPrivs).toBe(true);
    expect(r.assumed.map((a) => a.what)).toContain('no-new-privs-implied');
    expect(() => fromSystemd('[Service]\nUser=nobody\n')).toThrow(/User=nobody: only numeric ids/);
    expect(() => fromSystemd('[Service]\nNoNewPrivileges=maybe\n')).toThrow(/not a boolean/);
  });

  test('k8s: containerd defaults, drop ALL, fsGroup, runAsNonRoot with uid 0 refused', () => {
    const d = fromK8s({ securityContext: {} });
    expect(d.image.tasks[0].cred.caps.bounding).toBe([CAP.CHOWN, CAP.DAC_OVERRIDE, CAP.FSETID, CAP.FOWNER, CAP.MKNOD, CAP.NET_RAW, CAP.SETGID, CAP.SETUID, CAP.SETFCAP, CAP.SETPCAP, CAP.NET_BIND_SERVICE, CAP.SYS_CHROOT, CAP.KILL, CAP.AUDIT_WRITE].reduce((s, n) => s | capBit(n), 0n));
    const p = fromK8s({ kind: 'Pod', spec: { securityContext: { runAsUser: 1000, fsGroup: 2000, supplementalGroups: [5] }, containers: [{ name: 'a' }, { name: 'b', securityContext: { capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] }, allowPrivilegeEscalation: false } }] } }, { container: 'b' });
    const c = p.image.tasks[0].cred;
    expect([c.uid, c.gid, c.groups.gids]).toEqual([1000, 0, [5, 2000]]);
    expect(c.caps.bounding).toBe(capBit(CAP.NET_ADMIN));
    expect(p.image.tasks[0].noNewPrivs).toBe(true);
    expect(() => fromK8s({ runAsNonRoot: true })).toThrow(/kubelet refuses/);
    expect(() => fromK8s({ capabilities: { add: ['WARP_DRIVE'] } })).toThrow(/unknown capability 'WARP_DRIVE'/);
  });

  test('OCI: bad fields named', () => {
    expect(() => fromOci({ process: { user: { uid: 'root' } } })).toThrow('process.user.uid: expected an id');
    expect(() => fromOci({ process: { capabilities: { bounding: ['CAP_X'] } } })).toThrow("process.capabilities.bounding[0]: unknown capability 'CAP_X'");
    expect(() => fromOci({})).toThrow(/process: missing/);
  });
});
