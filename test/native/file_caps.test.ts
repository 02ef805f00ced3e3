// readFileCaps (native/spawn.cc): a file's security.capability (struct vfs_cap_data), as the
// restart's newuidmap/newgidmap check reads it. Root (CI runs as root): writing it needs
// CAP_SETFCAP. Only revisions 2 and 3 can be written: the kernel refuses any other value
// (cap_convert_nscap), so revision 1 and malformed values come only from old filesystems.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { native } from '../../lib/native/binding';

let file: string;
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-fcaps-'));
  file = path.join(dir, 'f');
  fs.writeFileSync(file, '');
});
afterAll(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));

test('none: null', () => {
  native().setFileCaps(file, null);
  expect(native().readFileCaps(file)).toBeNull();
});

test('revision 2: both words of each set, and the effective flag', () => {
  const permitted = (1n << 40n) | (1n << 7n);
  native().setFileCaps(file, { permitted, inheritable: 1n << 33n, effective: true });
  expect(native().readFileCaps(file)).toEqual({ permitted, inheritable: 1n << 33n, effective: true });
});

test('revision 3: the rootid too', () => {
  native().setFileCaps(file, { permitted: 1n << 6n, inheritable: 0n, effective: false, rootid: 100000 });
  expect(native().readFileCaps(file)).toEqual({ permitted: 1n << 6n, inheritable: 0n, effective: false, rootid: 100000 });
});

test('a missing file: ENOENT naming it', () => {
  expect(() => native().readFileCaps(file + '.missing')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
});
