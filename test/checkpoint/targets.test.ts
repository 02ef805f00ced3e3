// checkpoint() takes what a process manager holds: a pid, a ChildProcess, a restart handle, or a
// pidfd; a child or a pidfd whose process has gone is refused (ProcessGoneError), never read as
// whatever process holds the pid now.
import { spawn } from 'child_process';
import { once } from 'events';
import * as fs from 'fs';
import { checkpoint, checkpointTree, ProcessGoneError } from '../../lib/checkpoint';
import { native } from '../../lib/native/binding';
import { restart } from '../../lib/restart';

const me = native().readThreadCreds();
const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the checkpoint tests must not skip');
const rootTest = isRoot ? test : test.skip;

function sleeper(uid = 4321) {
  const c = spawn('/bin/sleep', ['30'], { uid, gid: uid, stdio: 'ignore' });
  return c;
}

describe('checkpoint targets', () => {
  rootTest('a pid, a ChildProcess and its pidfd give the same image of the same process', async () => {
    const c = sleeper();
    await once(c, 'spawn');
    const fd = native().pidfdOpen(c.pid!);
    try {
      const byPid = await checkpoint(c.pid!, { unknownSecurebits: 'skip' });
      const byChild = await checkpoint(c, { unknownSecurebits: 'skip' });
      const byPidfd = await checkpoint({ pidfd: fd }, { unknownSecurebits: 'skip' });
      const tree = await checkpointTree({ pidfd: fd }, { unknownSecurebits: 'skip' });
      for (const img of [byPid, byChild, byPidfd, tree]) expect([img.tasks[0].cred.uid, img.tasks[0].cred.gid]).toEqual([4321, 4321]);
      // One process given as three targets is one pid given thrice: refused, as a repeated pid.
      await expect(checkpoint([c, { pidfd: fd }, c.pid!], { unknownSecurebits: 'skip' })).rejects.toThrow(`checkpoint: pid ${c.pid} given twice`);
      const other = sleeper();
      await once(other, 'spawn');
      const otherFd = native().pidfdOpen(other.pid!);
      try {
        const mixed = await checkpoint([c, { pidfd: otherFd }, process.pid], { unknownSecurebits: 'skip' });
        expect(mixed.tasks.map((t) => t.pids.vpid)).toEqual([c.pid, other.pid, process.pid]);
      } finally {
        other.kill('SIGKILL');
        await once(other, 'exit');
        fs.closeSync(otherFd);
      }
    } finally {
      c.kill('SIGKILL');
      await once(c, 'exit');
      fs.closeSync(fd);
    }
  });

  rootTest('a restart handle is a child too', async () => {
    const { ImageBuilder } = await import('../../lib/format');
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1234, gid: 1234, caps: { bounding: me.caps.bounding } }));
    const h = restart(b.build(), '/bin/sleep', ['30'], { stdio: 'ignore', cwd: '/' });
    await once(h, 'spawn');
    const img = await checkpoint(h, { unknownSecurebits: 'skip' });
    expect(img.tasks[0].cred.uid).toBe(1234);
    h.kill('SIGKILL');
    await h;
    await expect(checkpoint(h)).rejects.toBeInstanceOf(ProcessGoneError);
  });

  rootTest('an exited child or the pidfd of an exited process: ProcessGoneError, whatever holds the pid now', async () => {
    const c = sleeper();
    await once(c, 'spawn');
    const fd = native().pidfdOpen(c.pid!);
    try {
      c.kill('SIGKILL');
      await once(c, 'exit'); // reaped: the pid is free for reuse
      await expect(checkpoint(c)).rejects.toMatchObject({ name: 'ProcessGoneError', code: 'ESRCH' });
      await expect(checkpoint({ pidfd: fd })).rejects.toBeInstanceOf(ProcessGoneError);
    } finally {
      fs.closeSync(fd);
    }
  });

  test('what is not a target: TypeError', async () => {
    await expect(checkpoint(-1)).rejects.toBeInstanceOf(TypeError);
    await expect(checkpoint({ pidfd: 0 })).rejects.toThrow(/not a pidfd/);
    await expect(checkpoint({} as never)).rejects.toThrow(/expected a pid, a ChildProcess/);
    const never = spawn('/nonexistent/program');
    never.on('error', () => undefined);
    await expect(checkpoint(never)).rejects.toThrow(/never started/);
  });
});
