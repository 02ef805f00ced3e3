// Random but meaningful cases (fast-check arbitraries, so failures shrink): root and non-root
// starts, ids near the caller's, capability subsets around the ones the rules test, locked
// securebits, user namespaces a few levels deep with full, shifted, partial or missing maps, and
// op sequences over every CredOp kind, an execve (plain, set-id, file caps) only last.
import type * as FastCheck from 'fast-check';
import type { CredOp, ExecFile } from '../model/ops';
import type { IdMapExtent } from '../model/types';
import type { AgreementCase } from './types';

/**
 * Ids near the caller's (root), a user's, the overflow id and its neighbour (in a namespace 65534
 * is also what unmapped ids show as: asking for it must not match them), one above 65535.
 */
export const ID_POOL = [0, 1, 1000, 1001, 2000, 65533, 65534, 100000] as const;
/** The capabilities the rules look at (24, CAP_SYS_RESOURCE, is outside the host's bounding set). */
export const CAP_POOL = [0, 1, 6, 7, 8, 21, 24, 31, 40] as const;

export interface GenOptions {
  lastCap?: number;
  /** Longest tested op list (default 8). */
  maxOps?: number;
  /** Deepest user-namespace start (default 3). */
  maxLevels?: number;
}

// fast-check is a development dependency: loaded on first use, so that the rest of
// lib/agreement (the harness, the comparison) loads without it.
type Fc = typeof FastCheck;
let fcModule: Fc | undefined;
function fcLib(): Fc {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (fcModule ??= require('fast-check') as Fc);
}

/** The arbitraries shared by the generators below, built once. */
function base(): ReturnType<typeof makeBase> {
  return (baseArbs ??= makeBase(fcLib()));
}
let baseArbs: ReturnType<typeof makeBase> | undefined;

const SECBITS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048];
const extent = (inside: number, outside: number, count: number): IdMapExtent => ({ inside, outside, count });

function makeBase(fc: Fc) {
  const id = fc.constantFrom(...ID_POOL);
  const idArg = fc.oneof({ weight: 5, arbitrary: id }, { weight: 1, arbitrary: fc.constant(-1) });
  const capNum = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...CAP_POOL) }, { weight: 1, arbitrary: fc.constantFrom(41, 63, -1) });
  const securebits = fc.oneof(
    { weight: 6, arbitrary: fc.subarray(SECBITS, { maxLength: 3 }).map((bs) => bs.reduce((a, b) => a | b, 0)) },
    { weight: 1, arbitrary: fc.constant(0x1000) },
  );
  /** Maps relative to the parent level: full, low ids, shifted, two extents, one id, bad ones. */
  const idMap: FastCheck.Arbitrary<readonly IdMapExtent[] | undefined> = fc.oneof(
    { weight: 3, arbitrary: fc.constant([extent(0, 0, 4294967295)]) },
    { weight: 2, arbitrary: fc.constant([extent(0, 0, 65536)]) },
    { weight: 2, arbitrary: fc.constant([extent(0, 1000, 1002)]) },
    { weight: 1, arbitrary: fc.constant([extent(0, 0, 2), extent(1000, 1000, 2)]) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(0, 1000), id).map(([i, o]) => [extent(i, o, 1)]) },
    // Bad maps. Not the empty one: the executor's "no text" means "leave unwritten".
    { weight: 1, arbitrary: fc.constantFrom([extent(0, 0, 10), extent(5, 100, 10)], [extent(0, 0, 0)]) },
    { weight: 2, arbitrary: fc.constant(undefined) },
  );
  return { id, idArg, capNum, securebits, idMap };
}

function capSet(lastCap: number): FastCheck.Arbitrary<bigint> {
  const fc = fcLib();
  const full = (1n << BigInt(lastCap + 1)) - 1n;
  return fc.oneof(
    { weight: 4, arbitrary: fc.subarray([...CAP_POOL]).map((cs) => cs.reduce((s, c) => s | (1n << BigInt(c)), 0n)) },
    { weight: 1, arbitrary: fc.constant(full) },
    { weight: 1, arbitrary: fc.constant(full & ~(1n << 24n)) },
    { weight: 1, arbitrary: fc.constant(0n) },
  );
}

function unshare(): FastCheck.Arbitrary<CredOp> {
  const fc = fcLib();
  const { idMap } = base();
  return fc
    .record({ setgroups: fc.constantFrom(undefined, undefined, 'allow', 'deny'), uidMap: idMap, gidMap: idMap })
    .map(({ setgroups, uidMap, gidMap }) => ({
      op: 'unshare_user' as const,
      ...(setgroups ? { setgroups } : {}),
      ...(uidMap ? { uidMap } : {}),
      ...(gidMap ? { gidMap } : {}),
    }));
}

function execFile(lastCap: number): FastCheck.Arbitrary<ExecFile | undefined> {
  const fc = fcLib();
  const { id } = base();
  const caps = fc.record({
    permitted: capSet(lastCap),
    inheritable: capSet(lastCap),
    effective: fc.boolean(),
    rootid: fc.constantFrom(undefined, undefined, 0, 1000, 100000),
  }).map(({ rootid, ...c }) => (rootid === undefined ? c : { ...c, rootid }));
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: id.map((uid) => ({ setuid: { uid } })) },
    { weight: 1, arbitrary: id.map((gid) => ({ setgid: { gid } })) },
    { weight: 2, arbitrary: caps.map((fileCaps) => ({ fileCaps })) },
    { weight: 1, arbitrary: fc.tuple(id, caps).map(([uid, fileCaps]) => ({ setuid: { uid }, fileCaps })) },
  );
}

/** Any one op but execve. */
export function credOp(lastCap = 40): FastCheck.Arbitrary<CredOp> {
  const fc = fcLib();
  const { id, idArg, capNum, securebits } = base();
  const cs = capSet(lastCap);
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(idArg, idArg, idArg).map(([ruid, euid, suid]) => ({ op: 'setresuid' as const, ruid, euid, suid })) },
    { weight: 3, arbitrary: fc.tuple(idArg, idArg, idArg).map(([rgid, egid, sgid]) => ({ op: 'setresgid' as const, rgid, egid, sgid })) },
    { weight: 2, arbitrary: id.map((fsuid) => ({ op: 'setfsuid' as const, fsuid })) },
    { weight: 2, arbitrary: id.map((fsgid) => ({ op: 'setfsgid' as const, fsgid })) },
    { weight: 2, arbitrary: fc.uniqueArray(id, { maxLength: 3 }).map((gids) => ({ op: 'setgroups' as const, gids })) },
    {
      weight: 4,
      arbitrary: fc.tuple(cs, cs, cs, fc.boolean()).map(([inheritable, permitted, e, sub]) => ({
        op: 'capset' as const, inheritable, permitted, effective: sub ? e & permitted : e,
      })),
    },
    { weight: 2, arbitrary: securebits.map((bits) => ({ op: 'set_securebits' as const, bits })) },
    { weight: 1, arbitrary: fc.boolean().map((on) => ({ op: 'set_keepcaps' as const, on })) },
    { weight: 2, arbitrary: capNum.map((cap) => ({ op: 'capbset_drop' as const, cap })) },
    { weight: 2, arbitrary: capNum.map((cap) => ({ op: 'ambient_raise' as const, cap })) },
    { weight: 1, arbitrary: capNum.map((cap) => ({ op: 'ambient_lower' as const, cap })) },
    { weight: 1, arbitrary: fc.constant({ op: 'ambient_clear_all' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'set_no_new_privs' as const }) },
    { weight: 3, arbitrary: unshare() },
  );
}

/** The start: root's way to the starting creds, each step optional. */
export function startOps(opts: GenOptions = {}): FastCheck.Arbitrary<CredOp[]> {
  const fc = fcLib();
  const { id, securebits } = base();
  const lastCap = opts.lastCap ?? 40;
  const cs = capSet(lastCap);
  const opt = <T>(a: FastCheck.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
  return fc
    .record({
      levels: fc.array(unshare(), { maxLength: opts.maxLevels ?? 3 }),
      groups: opt(fc.uniqueArray(id, { maxLength: 3 })),
      gids: opt(fc.tuple(id, id, id)),
      drops: fc.uniqueArray(fc.constantFrom(...CAP_POOL), { maxLength: 3 }),
      bits: opt(securebits),
      uids: opt(fc.tuple(id, id, id)),
      caps: opt(fc.tuple(cs, cs, cs)),
      ambient: fc.uniqueArray(fc.constantFrom(...CAP_POOL), { maxLength: 2 }),
      nnp: fc.boolean(),
    })
    .map((s) => {
      const ops: CredOp[] = [...s.levels];
      if (s.groups) ops.push({ op: 'setgroups', gids: s.groups });
      if (s.gids) ops.push({ op: 'setresgid', rgid: s.gids[0], egid: s.gids[1], sgid: s.gids[2] });
      for (const cap of s.drops) ops.push({ op: 'capbset_drop', cap });
      if (s.bits !== undefined) ops.push({ op: 'set_securebits', bits: s.bits });
      if (s.caps) {
        const [i, p, e] = s.caps;
        ops.push({ op: 'capset', inheritable: i & p, permitted: p, effective: e & p });
      }
      for (const cap of s.ambient) ops.push({ op: 'ambient_raise', cap });
      if (s.uids) ops.push({ op: 'setresuid', ruid: s.uids[0], euid: s.uids[1], suid: s.uids[2] });
      if (s.nnp) ops.push({ op: 'set_no_new_privs' });
      return ops;
    });
}

/** A whole case: a start, up to maxOps ops, sometimes an execve last. */
export function agreementCase(opts: GenOptions = {}): FastCheck.Arbitrary<AgreementCase> {
  const fc = fcLib();
  const lastCap = opts.lastCap ?? 40;
  return fc
    .record({
      start: startOps(opts),
      ops: fc.array(credOp(lastCap), { maxLength: opts.maxOps ?? 8 }),
      exec: fc.option(execFile(lastCap), { nil: null, freq: 2 }),
    })
    .map(({ start, ops, exec }) => ({
      start,
      ops: exec === null ? ops : [...ops, { op: 'execve' as const, path: 'reporter', ...(exec ? { file: exec } : {}) }],
    }));
}
