// Property: processes built by random launcher-like op sequences (what setpriv, unshare and bwrap
// do: groups and ids set, the bounding set cut, then one or two user namespaces with maps that
// leave some of the groups unmapped, then ids and capabilities inside) come back from checkpoint ->
// restart (by root) with the same /proc status and namespace files, field by field. The sequences
// are played in the emulator first and kept when every op is allowed and the last namespace
// leaves a group unmapped; the real kernel then runs them in a forked child (the addon's spawn).
import fc from 'fast-check';
import type { CredOp } from '../../lib/model';
import { unmappedIds, type IdMapExtent } from '../../lib/model';
import { Emulator } from '../../lib/emulator';
import { callerAsRestarter, profileFor } from '../../lib/emulator/caller';
import { native, type NativeRestartOp } from '../../lib/native/binding';
import { live, marker, pidsOf, roundTrip, byRoot, waitFor, type Running } from './harness';

const probe = native().probe();
const me = native().readThreadCreds();
const ext = (inside: number, outside: number, count: number): IdMapExtent => ({ inside, outside, count });

const gid = fc.constantFrom(0, 10, 20, 1000, 1001, 2000);
const before: fc.Arbitrary<CredOp[]> = fc.tuple(
  fc.uniqueArray(gid, { minLength: 0, maxLength: 4 }),
  fc.option(fc.constantFrom(0, 1000), { nil: undefined }),
  fc.subarray([0, 1, 21, 31]),
).map(([groups, g, drops]) => [
  // Always one of 10, 20: no map below maps them.
  { op: 'setgroups', gids: [...new Set([10, ...groups])] },
  ...(g === undefined ? [] : [{ op: 'setresgid', rgid: g, egid: g, sgid: g } as CredOp]),
  ...drops.map((cap) => ({ op: 'capbset_drop', cap }) as CredOp),
]);
/** One level's maps: its own root only, a low range (10 and 20 in it), or a shifted range. */
const level = fc.record({
  setgroups: fc.constantFrom('allow' as const, 'deny' as const),
  uid: fc.constantFrom([ext(0, 0, 1)], [ext(0, 0, 2000)], [ext(0, 0, 1), ext(1, 1000, 1002)]),
  gid: fc.constantFrom([ext(0, 0, 1)], [ext(0, 0, 30)], [ext(0, 0, 1), ext(1, 1000, 1002)], [ext(0, 1000, 1)]),
}).map((l): CredOp => ({ op: 'unshare_user', setgroups: l.setgroups, uidMap: l.uid, gidMap: l.gid }));
const inside: fc.Arbitrary<CredOp[]> = fc.tuple(
  fc.option(fc.constantFrom(0, 1, 2), { nil: undefined }),
  fc.subarray([6, 7, 8, 12, 21]),
  fc.boolean(),
).map(([id, drop, nnp]) => [
  ...drop.map((cap) => ({ op: 'capbset_drop', cap }) as CredOp),
  ...(id === undefined ? [] : [{ op: 'setresgid', rgid: id, egid: id, sgid: id } as CredOp, { op: 'setresuid', ruid: id, euid: id, suid: id } as CredOp]),
  ...(nnp ? [{ op: 'set_no_new_privs' } as CredOp] : []),
]);
const sequence = fc.tuple(before, fc.array(level, { minLength: 1, maxLength: 2 }), inside).map(([a, levels, c]) => [...a, ...levels, ...c]);

/** The emulator's verdict: every op allowed, and a group unmapped at the end. */
function playable(ops: CredOp[]): boolean {
  const emu = new Emulator(profileFor(probe.capLastCap));
  const t = emu.spawnTask({ ...callerAsRestarter(me), user: emu.user(me.uid) }, { noNewPrivs: me.noNewPrivs });
  if (!emu.applyAll(t, ops).ok) return false;
  return (unmappedIds(t.cred)?.groups ?? []).some((k) => k < 0);
}

/** The ops run in a forked child that then execs `sleep MARK`. */
async function start(ops: CredOp[], mark: string): Promise<Running> {
  let exit: () => void = () => undefined;
  const gone = new Promise<void>((r) => (exit = r));
  const child = native().spawn({
    files: ['/bin/sleep'], argv: ['sleep', mark], envp: [], cwd: '/', stdio: ['ignore', 'ignore', 'ignore'],
    ops: ops as NativeRestartOp[], onExit: () => exit(),
  });
  await waitFor('the child to exec sleep', () => pidsOf(['sleep', mark])[0]);
  return {
    pid: child.pid,
    output: () => '',
    async stop() {
      child.kill(9);
      await gone;
    },
  };
}

live('launcher-like sequences ending with unmapped groups come back with the same status fields', async () => {
  await fc.assert(
    fc.asyncProperty(sequence, async (ops) => {
      fc.pre(playable(ops));
      await roundTrip(JSON.stringify(ops), (m) => start(ops, m), [byRoot]);
    }),
    { numRuns: 15 },
  );
}, 180000);

test('the generator reaches the case (a pure check: enough sequences are playable)', () => {
  const sample = fc.sample(sequence, { numRuns: 300, seed: 1 });
  expect(sample.filter(playable).length).toBeGreaterThan(40);
});


