// Unmapped groups across a process tree and across threads: `setpriv --groups=10,20 unshare -U -r`
// starting a shell with children (checkpointTree), and a multi-threaded python (checkpoint with
// threads). Every task of the image is restarted by root (restart's `task`) and compared with the
// process or thread it was taken from, field by field.
import { checkpoint, checkpointTree } from '../../lib/checkpoint';
import { encode } from '../../lib/format';
import { unmappedIds, unmappedKey } from '../../lib/model';
import { expectSame, launch, live, marker, pidsOf, readFields, requireTool, restartHere, waitFor } from './harness';
import * as fs from 'fs';

const setpriv = requireTool('setpriv');
const unshare = requireTool('unshare');
const python = requireTool('python3');
const UNMAPPED = [unmappedKey(10), unmappedKey(20)];

async function restartEach(bytes: Uint8Array, originals: Record<string, string>[], what: string): Promise<void> {
  for (let i = 0; i < originals.length; i++) {
    const mark = marker();
    const again = restartHere(bytes, mark, i);
    try {
      expectSame(originals[i], readFields(again.pid), `${what}, task ${i}`);
    } finally {
      await again.stop();
    }
  }
}

live('--tree: a shell and its children in a namespace that does not map their groups', async () => {
  const [m1, m2] = [marker(), marker()];
  const sh = requireTool('sh');
  const r = await launch([setpriv, '--groups=10,20', unshare, '-U', '-r', sh, '-c', `sleep ${m1} & sleep ${m2} & exec sleep ${m2}1`], `${m2}1`);
  try {
    await waitFor('both children', () => (pidsOf(['sleep', m1]).length && pidsOf(['sleep', m2]).length ? true : undefined));
    const image = await checkpointTree(r.pid);
    expect(image.tasks).toHaveLength(3);
    for (const t of image.tasks) expect(unmappedIds(t.cred)?.groups).toEqual(UNMAPPED);
    const pids = [r.pid, pidsOf(['sleep', m1])[0], pidsOf(['sleep', m2])[0]];
    // The image's tasks in tree order: the root, then its children as /proc lists them.
    const order = image.tasks.map((t) => t.pids.vpid);
    const originals = order.map((vpid) => readFields(pids.find((p) => fs.readFileSync(`/proc/${p}/status`, 'utf8').match(/^NSpid:.*\s(\d+)$/m)?.[1] === String(vpid))!));
    await restartEach(encode(image), originals, 'checkpointTree');
  } finally {
    await r.stop();
    for (const p of [...pidsOf(['sleep', m1]), ...pidsOf(['sleep', m2])]) process.kill(p, 'SIGKILL');
  }
});

live('threads: each thread of a multi-threaded process, its groups unmapped', async () => {
  const mark = marker();
  // Found by its own command line (the trailing words only mark it).
  const code = 'import threading,time\nfor _ in range(2): threading.Thread(target=time.sleep,args=(600,),daemon=True).start()\ntime.sleep(600)';
  const argv = [setpriv, '--groups=10,20', unshare, '-U', '-r', python, '-c', code, 'sleep', mark];
  const r = await launch(argv, mark, { target: [python, '-c', code, 'sleep', mark] });
  const pid = r.pid;
  try {
    await waitFor('three threads', () => (fs.readdirSync(`/proc/${pid}/task`).length === 3 ? true : undefined));
    const image = await checkpoint(pid, { threads: true });
    expect(image.tasks).toHaveLength(3);
    for (const t of image.tasks) expect(unmappedIds(t.cred)?.groups).toEqual(UNMAPPED);
    const tids = fs.readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => (a === pid ? -1 : b === pid ? 1 : a - b));
    const originals = tids.map((tid) => readFields(`${pid}/task/${tid}`));
    await restartEach(encode(image), originals, 'checkpoint --threads');
  } finally {
    await r.stop();
  }
});
