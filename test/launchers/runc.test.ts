// runc as the launcher, as root, with a busybox bundle the test builds: runc's default container
// (three capabilities in every set, ambient included, no_new_privs, its own pid, mount, ipc, uts
// and network namespaces), a container process with a user and supplementary groups, and one in
// a user namespace with ranged maps. The container's process is restarted by root outside the
// container (creds and user namespaces are what restart carries) and compared field by field.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { makeBusyboxBundle } from '../helpers/runc-bundle';
import { launch, live, requireTool, byRoot, roundTrip, type Running } from './harness';

const runc = requireTool('runc');
const asRoot = [byRoot];

type Config = { process: { terminal?: boolean; args: string[]; user: { uid: number; gid: number; additionalGids?: number[] } }; linux: { namespaces: { type: string }[]; uidMappings?: unknown[]; gidMappings?: unknown[] } };

/** Starts `sleep MARK` in a container of a fresh bundle, `adjust`ed; stop() deletes the container. */
async function container(mark: string, adjust: (c: Config) => void): Promise<Running> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-runc-'));
  fs.chmodSync(dir, 0o755);
  const { bundle } = await makeBusyboxBundle(dir);
  const file = path.join(bundle, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as Config;
  config.process.args = ['sleep', mark];
  config.process.terminal = false; // --detach without a console socket
  adjust(config);
  fs.writeFileSync(file, JSON.stringify(config));
  const state = path.join(dir, 'state');
  const id = `cr-creds-${mark}`;
  const remove = () => {
    spawnSync(runc, ['--root', state, 'delete', '--force', id]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  let r: Running;
  try {
    r = await launch([runc, '--root', state, 'run', '--detach', '--bundle', bundle, id], mark, { detaches: true });
  } catch (e) {
    remove();
    throw e;
  }
  return {
    pid: r.pid,
    output: r.output,
    async stop() {
      await r.stop();
      remove();
    },
  };
}

describe('runc as root', () => {
  live("runc's default container", () => roundTrip('runc default spec', (m) => container(m, () => undefined), asRoot), 60000);

  live('a process user with supplementary groups', () =>
    roundTrip('runc user 1000:1000 groups 10,20', (m) => container(m, (c) => {
      c.process.user = { uid: 1000, gid: 1000, additionalGids: [10, 20] };
    }), asRoot), 60000);

  live('a user namespace with ranged maps', () =>
    roundTrip('runc userns 0:100000:65536', (m) => container(m, (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.process.user = { uid: 1000, gid: 1000, additionalGids: [10, 20] };
    }), asRoot), 60000);
});
