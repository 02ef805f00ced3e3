import * as fs from 'fs';
import { native } from '../../lib/native/binding';

describe('kernel probe (addon)', () => {
  const p = native().probe();

  test('release and cap_last_cap match what the kernel publishes', () => {
    expect(p.release).toBe(fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());
    expect(p.capLastCap).toBe(Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')));
  });

  test('the linux-cr syscalls are reported exactly as /proc/kallsyms shows them', () => {
    const syms = fs.readFileSync('/proc/kallsyms', 'utf8');
    expect(p.linuxCr.sysCheckpoint).toBe(/\s(__\w+_)?sys_checkpoint(\s|$)/m.test(syms));
    expect(p.linuxCr.sysRestart).toBe(/\s(__\w+_)?sys_restart(\s|$)/m.test(syms));
  });

  test('user-namespace creation agrees with unshare(1)', () => {
    const { spawnSync } = require('child_process') as typeof import('child_process');
    const r = spawnSync('unshare', ['--user', 'true']);
    expect(p.userNamespaces.canCreate).toBe(r.status === 0);
  });
});

describe('kernel probe: live-checkpoint fields', () => {
  const p = native().probe();

  test('securebits: the seed six and the later ones this kernel knows, nothing past them', () => {
    expect(p.securebits.known).not.toBeNull();
    expect(p.securebits.known! & 0x3f).toBe(0x3f);
    // bits above 11 are defined by no kernel
    expect(p.securebits.known! >>> 12).toBe(0);
  });

  test('user namespaces nest to the kernel limit (33 below init), then ENOSPC', () => {
    expect(p.userNamespaces.maxDepth).toBeGreaterThanOrEqual(32);
    expect(p.userNamespaces.maxDepthError).toBe('ENOSPC');
  });

  test('ptrace of a child works here (root)', () => {
    expect(p.ptrace).toEqual({ works: true });
  });
});
