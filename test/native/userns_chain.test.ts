// readUserNsChain (native/userns.cc): levels outermost first, maps relative to the parent.
import * as fs from 'fs';
import { native } from '../../lib/native/binding';
import { credproc, killAll } from '../checkpoint/helpers/procs';

afterAll(killAll);

test('the caller itself: no level; the root inode is /proc/self/ns/user', async () => {
  expect(await native().readUserNsChain(process.pid)).toEqual([]);
  expect(native().callerUserNsInode()).toBe(BigInt(fs.statSync('/proc/self/ns/user').ino));
});

test('three levels: inodes, owners and maps relative to each parent', async () => {
  const p = await credproc(['--nest=3']);
  const chain = await native().readUserNsChain(p.pid);
  expect(chain).toHaveLength(3);
  expect(chain[2].inode).toBe(BigInt(fs.statSync(`/proc/${p.pid}/ns/user`).ino));
  expect(new Set(chain.map((l) => l.inode)).size).toBe(3);
  expect(chain.map((l) => l.uidMap)).toEqual([
    [{ inside: 0, outside: 100000, count: 65536 }],
    [{ inside: 0, outside: 1, count: 65535 }],
    [{ inside: 0, outside: 1, count: 65534 }],
  ]);
  // /proc/PID/uid_map read from here shows the last level relative to US, not to its parent
  expect(fs.readFileSync(`/proc/${p.pid}/uid_map`, 'utf8').trim().split(/\s+/).map(Number)).toEqual([0, 100002, 65534]);
  expect(chain.map((l) => l.ownerUid)).toEqual([0, 0, 0]);
  expect(chain.every((l) => l.setgroups === 'allow')).toBe(true);
});

test('a vanished pid: ESRCH', async () => {
  await expect(native().readUserNsChain(2 ** 22 + 12345)).rejects.toMatchObject({ code: 'ESRCH' });
});
