// capsh (libcap2-bin) as the launcher: dropped bounding caps, a user with kept and ambient
// capabilities and groups, locked securebits, and an IAB tuple; restarted by root and compared
// with the original field by field.
import { launch, live, requireTool, byRoot, roundTrip } from './harness';

const capsh = requireTool('capsh');
const sh = requireTool('sh');
const asRoot = [byRoot];

const cases: [string, string[]][] = [
  ['--drop (bounding set)', ['--drop=cap_sys_admin,cap_net_raw']],
  ['--keep --user ids --groups --addamb', ['--inh=cap_net_raw', '--caps=cap_net_raw,cap_setuid,cap_setgid,cap_setpcap+eip', '--keep=1', '--groups=10,20', '--gid=1000', '--uid=1000', '--addamb=cap_net_raw']],
  ['--secbits with locks --user', ['--secbits=0x2f', '--user=nobody']],
  ['--iab', ['--iab=!%cap_sys_admin,^cap_net_raw']],
];

describe('capsh', () => {
  for (const [name, args] of cases) {
    live(name, () => roundTrip(`capsh ${args.join(' ')}`, (m) => launch([capsh, ...args, `--shell=${sh}`, '--', '-c', `exec sleep ${m}`], m), asRoot));
  }
});
