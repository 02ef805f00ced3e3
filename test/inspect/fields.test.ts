// credentialFields(): the flat record "the same creds" is judged by (demo, QEMU harness).
import { ImageBuilder } from '../../lib/format';
import { credentialFields, differentFields } from '../../lib/inspect';

function task(uid: number, setgroups: 'allow' | 'deny') {
  const b = new ImageBuilder();
  const ns = b.namespace(b.user(0), { uidMap: [{ inside: 0, outside: 100000, count: 65536 }], setgroups });
  return b.task(b.cred({ uid, gid: 5, groups: [7, 3], user: b.user(uid, ns), caps: { ambient: 1n << 10n } }), { noNewPrivs: true });
}

test('every field, flat: ids, groups, cap sets in /proc hex, securebits, nnp, user, the chain', () => {
  expect(credentialFields(task(1000, 'deny'))).toEqual({
    'uid/euid/suid/fsuid': '1000/1000/1000/1000',
    'gid/egid/sgid/fsgid': '5/5/5/5',
    groups: '3,7',
    inheritable: '0000000000000000',
    permitted: '0000000000000000',
    effective: '0000000000000000',
    bounding: '0000000000000000',
    ambient: '0000000000000400',
    securebits: '0',
    no_new_privs: 'true',
    'user.uid': '1000',
    'userns chain': '[{"owner":0,"uidMap":[{"inside":0,"outside":100000,"count":65536}],"gidMap":null,"setgroups":"deny"}]',
  });
});

test('differentFields names each field that differs, with both values', () => {
  const a = credentialFields(task(1000, 'deny'));
  expect(differentFields(a, credentialFields(task(1000, 'deny')))).toEqual([]);
  expect(differentFields(a, credentialFields(task(1001, 'allow')))).toEqual([
    'uid/euid/suid/fsuid: 1000/1000/1000/1000 vs 1001/1001/1001/1001',
    'user.uid: 1000 vs 1001',
    expect.stringMatching(/^userns chain: .*"deny".* vs .*"allow"/),
  ]);
});
