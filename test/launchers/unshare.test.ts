// unshare (util-linux) as the launcher: -U -r, and --map-user/--map-group/--map-users/--map-groups
// (the ranged maps written by newuidmap / newgidmap from /etc/subuid and /etc/subgid), run by root
// and by an unprivileged user with supplementary groups the new namespace does not map. Each
// process is restarted by root and, where a user launched it, by that same user (the CLI under
// setpriv), and compared with the original field by field.
import { asUser, byRoot, byUserRestarter, launch, live, requireTool, roundTrip, withSubordinateIds, type User } from './harness';

const unshare = requireTool('unshare');
requireTool('newuidmap');
requireTool('newgidmap');
const USER: User = { uid: 65534, gid: 65534, groups: [10, 20] };
// Ranges of our own, far from the other tests' grants.
const SUBIDS = ['root:300000:65536', 'nobody:400000:65536'];
const byUser = byUserRestarter(USER, 'launchers-unshare');

const rootCases: [string, string[]][] = [
  ['-U -r', ['-U', '-r']],
  ['-U -r with groups the namespace does not map', ['--groups=10,20', '-U', '-r']],
  ['-U --map-user --map-group', ['-U', '--map-user=1000', '--map-group=1000']],
  ['-U --map-users --map-groups (every id of the task unmapped)', ['--groups=10,20', '-U', '--map-users=300000,0,65536', '--map-groups=300000,0,65536']],
  ['-U --map-user=0 --map-users --map-groups (groups unmapped)', ['--groups=10,20', '-U', '--map-user=0', '--map-group=0', '--map-users=300000,1,65535', '--map-groups=300000,1,65535']],
];

describe('unshare as root', () => {
  for (const [name, args] of rootCases) {
    // setpriv first when the case sets groups (unshare itself cannot).
    const argv = args[0].startsWith('--groups') ? [requireTool('setpriv'), args[0], unshare, ...args.slice(1)] : [unshare, ...args];
    live(name, () => withSubordinateIds(SUBIDS, () => roundTrip(`unshare ${args.join(' ')}`, (m) => launch([...argv, 'sleep', m], m), [byRoot])), 180000);
  }
});

const userCases: [string, string[]][] = [
  ['-U -r', ['-U', '-r']],
  ['-U --map-user=0 --map-group=0 with a subuid range: --map-users --map-groups', ['-U', '--map-user=0', '--map-group=0', '--map-users=400000,1,65535', '--map-groups=400000,1,65535']],
];

describe(`unshare as uid ${USER.uid} with groups ${USER.groups.join(',')}`, () => {
  for (const [name, args] of userCases) {
    live(name, () => withSubordinateIds(SUBIDS, () =>
      roundTrip(`${asUser(USER).join(' ')} unshare ${args.join(' ')}`, (m) => launch([...asUser(USER), unshare, ...args, 'sleep', m], m), [byRoot, byUser])), 180000);
  }
});
