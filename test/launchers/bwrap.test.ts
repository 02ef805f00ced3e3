// bubblewrap as the launcher: --unshare-user with --uid/--gid, --cap-add/--cap-drop, and bwrap
// nested two levels deep, run by root and by an unprivileged user with supplementary groups the
// namespace does not map; restarted by root and, where a user launched it, by that user.
import { asUser, byRoot, byUserRestarter, launch, live, requireTool, roundTrip, type User } from './harness';

const bwrap = requireTool('bwrap');
const USER: User = { uid: 65534, gid: 65534, groups: [10, 20] };
const byUser = byUserRestarter(USER, 'launchers-bwrap');

const base = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc'];
const nested = (outer: string[], inner: string[]) => [bwrap, '--unshare-user', ...outer, ...base, bwrap, '--unshare-user', ...inner, ...base];

const rootCases: [string, string[]][] = [
  ['--unshare-user --uid --gid', [bwrap, '--unshare-user', '--uid', '1000', '--gid', '1000', ...base]],
  ['--unshare-user --uid 0 --cap-add --cap-drop', [bwrap, '--unshare-user', '--uid', '0', '--cap-add', 'CAP_NET_ADMIN', '--cap-drop', 'CAP_SYS_ADMIN', ...base]],
  ['nested two levels', nested(['--uid', '0', '--gid', '0', '--cap-add', 'ALL'], ['--uid', '5', '--gid', '6'])],
];

describe('bwrap as root', () => {
  for (const [name, argv] of rootCases) {
    live(name, () => roundTrip(argv.join(' '), (m) => launch([...argv, 'sleep', m], m), [byRoot]), 60000);
  }
});

const userCases: [string, string[]][] = [
  ['--unshare-user --uid --gid (groups unmapped)', [bwrap, '--unshare-user', '--uid', '1000', '--gid', '1000', ...base]],
  ['--unshare-user --uid 0 --cap-add --cap-drop', [bwrap, '--unshare-user', '--uid', '0', '--gid', '0', '--cap-add', 'CAP_NET_ADMIN', '--cap-drop', 'CAP_SYS_ADMIN', ...base]],
  ['nested two levels', nested(['--uid', '0', '--gid', '0', '--cap-add', 'ALL'], ['--uid', '5', '--gid', '6'])],
];

describe(`bwrap as uid ${USER.uid} with groups ${USER.groups.join(',')}`, () => {
  for (const [name, argv] of userCases) {
    live(name, () => roundTrip(`${asUser(USER).join(' ')} ${argv.join(' ')}`, (m) => launch([...asUser(USER), ...argv, 'sleep', m], m), [byRoot, byUser]), 60000);
  }
});
