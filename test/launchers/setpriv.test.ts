// setpriv (util-linux) as the launcher: ids, groups, capabilities, the bounding set, securebits
// with locks, no_new_privs and ambient capabilities, each restarted by root and compared with
// the original field by field.
import { launch, live, requireTool, byRoot, roundTrip } from './harness';

const setpriv = requireTool('setpriv');
const asRoot = [byRoot];

const cases: [string, string[]][] = [
  ['ids and supplementary groups', ['--reuid=1000', '--regid=1000', '--groups=10,20,1000']],
  ['split real/effective ids', ['--ruid=1000', '--euid=0', '--rgid=1001', '--egid=0', '--keep-groups']],
  ['capabilities and a bounding set', ['--inh-caps=-all,+net_raw,+chown', '--bounding-set=-all,+net_raw,+chown,+setpcap,+setuid,+setgid']],
  ['ambient capabilities as a user', ['--reuid=1000', '--regid=1000', '--clear-groups', '--inh-caps=-all,+net_bind_service', '--ambient-caps=-all,+net_bind_service']],
  ['securebits with locks', ['--securebits=+noroot,+noroot_locked,+no_setuid_fixup,+keep_caps_locked']],
  ['no_new_privs', ['--no-new-privs', '--reuid=1000', '--regid=1000', '--clear-groups']],
];

describe('setpriv', () => {
  for (const [name, args] of cases) {
    live(name, () => roundTrip(`setpriv ${args.join(' ')}`, (m) => launch([setpriv, ...args, 'sleep', m], m), asRoot));
  }
});
