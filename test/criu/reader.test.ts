// The reader against real CRIU 4.2 dumps: it must give exactly the creds that CRIU's own `crit`
// decoded (creds.crit.json), every field, and the conversion must carry them into the model.
import * as fs from 'fs';
import * as path from 'path';
import { criu } from '../../lib';
import { decode, encode } from '../../lib/format';
import { DUMPS, critCreds, dumpPid, fixture } from './helpers';

const CAP_FIELDS = ['cap_inh', 'cap_prm', 'cap_eff', 'cap_bnd', 'cap_amb'] as const;

describe.each(DUMPS)('CRIU 4.2 dump %s', (name) => {
  test('the creds are exactly those of crit, every field', async () => {
    const dump = await criu.readCriuDir(fixture(name));
    expect(dump.tasks).toHaveLength(1);
    const creds = dump.tasks[0].creds;
    const crit = critCreds(name);
    // Same keys, same values: ids, groups, all five cap sets as CRIU's words, secbits, no_new_privs.
    expect(creds).toEqual(crit);
    expect(Object.keys(creds).sort()).toEqual(Object.keys(crit).sort());
    for (const f of CAP_FIELDS) expect(creds[f]).toHaveLength(2);
  });

  test('the tree, ids and namespaces are CRIU\'s', async () => {
    const dump = await criu.readCriuDir(fixture(name));
    const pid = dumpPid(name);
    expect(dump.pstree).toEqual([{ pid, ppid: 0, pgid: pid, sid: pid, threads: [pid] }]);
    const t = dump.tasks[0];
    expect([t.pid, t.tid, t.ppid, t.pgid, t.sid, t.mtype]).toEqual([pid, pid, 0, pid, pid, criu.MARCH.X86_64]);
    // The task shares CRIU's user namespace (root_ids): no userns image was written or read.
    expect(t.ids?.user_ns_id).toBe(dump.inventory.root_ids?.user_ns_id);
    expect(dump.userns).toEqual([]);
    expect(fs.existsSync(path.join(fixture(name), `userns-${t.ids?.user_ns_id}.img`))).toBe(false);
    expect(dump.inventory.img_version).toBe(2);
  });

  test('into the model: every field carried, nothing lost, nothing assumed', async () => {
    const crit = critCreds(name) as Record<string, number | number[]>;
    const { image, lossy, assumed } = await criu.criuDirToImage(fixture(name));
    expect(lossy).toEqual([]);
    expect(assumed).toEqual([]);
    // Through the linux-cr bytes and back, so the image really holds it.
    const back = decode(encode(image));
    expect(back.tasks).toHaveLength(1);
    const t = back.tasks[0];
    const c = t.cred;
    expect([c.uid, c.euid, c.suid, c.fsuid]).toEqual([crit.uid, crit.euid, crit.suid, crit.fsuid]);
    expect([c.gid, c.egid, c.sgid, c.fsgid]).toEqual([crit.gid, crit.egid, crit.sgid, crit.fsgid]);
    expect(c.groups.gids).toEqual(crit.groups ?? []);
    const set = (w: number[]) => BigInt(w[0]) | (BigInt(w[1]) << 32n);
    expect(c.caps).toEqual({
      inheritable: set(crit.cap_inh as number[]),
      permitted: set(crit.cap_prm as number[]),
      effective: set(crit.cap_eff as number[]),
      bounding: set(crit.cap_bnd as number[]),
      ambient: set(crit.cap_amb as number[]),
    });
    expect(c.securebits).toBe(crit.secbits);
    expect(t.noNewPrivs).toBe(crit.no_new_privs === 1);
    expect(t.ecred).toBe(t.cred);
    expect(c.user.ns.creator).toBeNull();
    const pid = dumpPid(name);
    expect(t.pids).toEqual({ vpid: pid, vppid: 0, vtgid: pid, vpgid: pid, vsid: pid, depth: 0 });
    expect(back.header.arch).toBe(2);
  });
});

test('what the fixtures show, in words: ambient, securebits, groups, no_new_privs', async () => {
  const caps = async (n: string) => (await criu.criuDirToImage(fixture(n))).image.tasks[0];
  const CAP_NET_BIND_SERVICE = 10n;
  const CAP_NET_RAW = 13n;
  const amb = await caps('ambient');
  expect(amb.cred.caps.ambient).toBe(1n << CAP_NET_RAW);
  expect(amb.cred.caps.inheritable).toBe(1n << CAP_NET_RAW);
  const FULL_BUT_SYS_RESOURCE = ((1n << 41n) - 1n) & ~(1n << 24n); // 0..40 (6.x) less CAP_SYS_RESOURCE
  expect(amb.cred.caps.permitted).toBe(FULL_BUT_SYS_RESOURCE);
  const g = await caps('groups-caps-secbits');
  expect(g.cred.groups.gids).toEqual([4, 24, 27]);
  expect(g.cred.securebits).toBe(0b101); // NOROOT | NO_SETUID_FIXUP
  expect(g.cred.caps.inheritable).toBe(1n << CAP_NET_BIND_SERVICE);
  expect(g.cred.caps.bounding).toBe(FULL_BUT_SYS_RESOURCE & ~(1n << 21n)); // and without CAP_SYS_ADMIN
  const nnp = await caps('nnp');
  expect(nnp.noNewPrivs).toBe(true);
  expect(nnp.cred.securebits).toBe(0b100000); // KEEP_CAPS_LOCKED
});
