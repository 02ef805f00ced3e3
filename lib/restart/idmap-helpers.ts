// newuidmap / newgidmap (shadow's uidmap package) for a restarter without CAP_SETUID / CAP_SETGID:
// where they are installed, whether this restarter can use them, and its subordinate ids from
// /etc/subuid and /etc/subgid. Everything here is read at restart time, never cached (the files
// change); the decisions themselves are pure (chain.ts firstLevelMaps, the emulator's userns.ts).
import * as fs from 'fs';
import * as os from 'os';
import { SECBIT } from '../model';
import type { Cred } from '../model/types';
import type { NativeRestartOp, ThreadCreds } from '../native/binding';
import { native } from '../native/binding';
import type { IdRange, Subordinate } from '../emulator/userns';
import type { FirstLevelMaps, MapHelper, MapHelpers } from './chain';

/** Where to look instead of the usual places (tests: a missing path hides a helper). */
export interface IdmapHelperPaths {
  newuidmap?: string;
  newgidmap?: string;
}

/** Directories searched for the helpers, in order (never $PATH: these run set-id). */
export const HELPER_DIRS: readonly string[] = ['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin', '/usr/local/sbin'];

const CAP_SETGID = 6;
const CAP_SETUID = 7;

/** One line of /etc/subuid or /etc/subgid: `owner:start:count`. */
export interface SubordinateEntry extends IdRange {
  owner: string;
  line: number;
}

/**
 * Strict parse of /etc/subuid or /etc/subgid: `owner:start:count` with decimal ids, count > 0 and
 * the range inside the 32-bit id space. Blank lines and `#` comments are skipped; any other line
 * that does not parse is reported in `problems` and grants nothing (newuidmap ignores it too).
 */
export function parseSubordinate(text: string, file = '/etc/subuid'): { entries: SubordinateEntry[]; problems: string[] } {
  const entries: SubordinateEntry[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) return;
    const f = raw.split(':');
    const bad = (why: string) => problems.push(`${file}:${line}: ${why}: ${JSON.stringify(raw)}`);
    if (f.length !== 3) return bad('expected owner:start:count');
    const [owner, s, c] = f;
    if (owner === '' || /\s/.test(owner)) return bad('bad owner');
    if (!/^(0|[1-9][0-9]{0,9})$/.test(s) || !/^[1-9][0-9]{0,9}$/.test(c)) return bad('start and count must be decimal, count > 0');
    const start = Number(s);
    const count = Number(c);
    if (start + count > 0xffffffff) return bad('range beyond the 32-bit id space');
    entries.push({ owner, start, count, line });
  });
  return { entries, problems };
}

/** One /etc/passwd entry (name, uid, gid). */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

/** /etc/passwd as name/uid/gid, in file order (unparsable lines skipped). */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const l of text.split('\n')) {
    const f = l.split(':');
    if (f.length < 4 || f[0] === '' || !/^\d+$/.test(f[2]) || !/^\d+$/.test(f[3])) continue;
    out.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]) });
  }
  return out;
}

/**
 * The lines granting `user` (shadow's find_range): owner is its name; or owner is its uid in
 * decimal; or owner is another name whose passwd uid is its uid. For a uid without a passwd
 * entry only the decimal form can match (`user.name` null).
 */
export function grantedRanges(entries: readonly SubordinateEntry[], user: { name: string | null; uid: number }, passwd: readonly PasswdEntry[]): IdRange[] {
  const uidOf = (name: string) => passwd.find((p) => p.name === name)?.uid;
  return entries
    .filter((e) => e.owner === user.name || e.owner === String(user.uid) || (!/^\d+$/.test(e.owner) && uidOf(e.owner) === user.uid))
    .map((e) => ({ start: e.start, count: e.count }));
}

function readText(file: string): { text: string; error?: string } {
  try {
    return { text: fs.readFileSync(file, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { text: '', error: code === 'ENOENT' ? `${file} does not exist` : `${file} cannot be read (${code})` };
  }
}

/** The passwd entry of `uid` as getpwuid would give it: /etc/passwd first, then NSS for ourselves. */
function passwdOf(uid: number, passwd: readonly PasswdEntry[]): PasswdEntry | null {
  const p = passwd.find((x) => x.uid === uid);
  if (p) return p;
  try {
    // os.userInfo() asks getpwuid_r for the process's own euid only, and throws without an entry.
    if (process.geteuid?.() === uid) {
      const u = os.userInfo();
      return { name: u.username, uid: u.uid, gid: u.gid };
    }
  } catch {
    // no entry
  }
  return null;
}

/** Why the installed helper at `path` cannot give the restarter its privilege; null when it can. */
function helperUnusable(path: string, cap: number, r: ThreadCreds): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
    fs.accessSync(path, fs.constants.X_OK);
  } catch (e) {
    return `${path}: ${(e as NodeJS.ErrnoException).code}`;
  }
  if (!st.isFile()) return `${path} is not a regular file`;
  if (r.noNewPrivs) return `no_new_privs is set, so ${path} would run without its set-id privilege`;
  const setuidRoot = st.uid === 0 /* S_ISUID */ && (st.mode & 0o4000) !== 0;
  if (setuidRoot && !(r.securebits & SECBIT.NOROOT)) return null;
  let fcaps: ReturnType<ReturnType<typeof native>['readFileCaps']> = null;
  try {
    fcaps = native().readFileCaps(path);
  } catch {
    fcaps = null;
  }
  if (fcaps && (fcaps.rootid ?? 0) === 0 && ((fcaps.permitted >> BigInt(cap)) & 1n)) return null;
  return setuidRoot
    ? `${path} is set-uid root, which SECBIT_NOROOT keeps from granting capabilities`
    : `${path} is neither set-uid root nor has file capabilities`;
}

function findHelper(name: 'newuidmap' | 'newgidmap', explicit: string | undefined): string | null {
  if (explicit !== undefined) return fs.existsSync(explicit) ? explicit : null;
  for (const d of HELPER_DIRS) if (fs.existsSync(`${d}/${name}`)) return `${d}/${name}`;
  return null;
}

/** login.defs GRANT_AUX_GROUP_SUBIDS: newuidmap then skips its real-gid-is-passwd-gid check. */
function grantAuxGroupSubids(): boolean {
  return /^[ \t]*GRANT_AUX_GROUP_SUBIDS[ \t]+yes[ \t]*$/im.test(readText('/etc/login.defs').text);
}

/**
 * newuidmap and newgidmap as `r` could use them: each with its path (null when unusable, with
 * the reason) and the subordinate ids /etc/subuid, /etc/subgid grant `r` (by name or uid).
 * Mirrors newuidmap's own checks on its caller: a passwd entry for the real uid, and (unless
 * GRANT_AUX_GROUP_SUBIDS) the real gid being the passwd gid.
 */
export function findIdmapHelpers(r: ThreadCreds, paths: IdmapHelperPaths = {}): MapHelpers {
  const passwd = parsePasswd(readText('/etc/passwd').text);
  const pw = passwdOf(r.uid, passwd);
  let callerProblem: string | null = null;
  if (!pw) callerProblem = `uid ${r.uid} has no passwd entry, and newuidmap / newgidmap refuse a caller they cannot name`;
  else if (pw.gid !== r.gid && !grantAuxGroupSubids())
    callerProblem = `the caller's real gid ${r.gid} is not its passwd gid ${pw.gid}, which newuidmap / newgidmap require (login.defs GRANT_AUX_GROUP_SUBIDS is off)`;
  const one = (name: 'newuidmap' | 'newgidmap', file: string, cap: number): MapHelper => {
    const sub = readText(file);
    const parsed = parseSubordinate(sub.text, file);
    const ranges = grantedRanges(parsed.entries, { name: pw?.name ?? null, uid: r.uid }, passwd);
    const explicit = name === 'newuidmap' ? paths.newuidmap : paths.newgidmap;
    const path = findHelper(name, explicit);
    let unusable: string | null;
    if (!path) unusable = `not installed (no ${explicit ?? HELPER_DIRS.map((d) => `${d}/${name}`).join(', ')}; package uidmap)`;
    else unusable = helperUnusable(path, cap, r) ?? callerProblem ?? (sub.error && !sub.error.endsWith('does not exist') ? sub.error : null);
    return { name, path: unusable ? null : path, ...(unusable ? { unusable } : {}), ranges, file };
  };
  return { uid: one('newuidmap', '/etc/subuid', CAP_SETUID), gid: one('newgidmap', '/etc/subgid', CAP_SETGID) };
}

/**
 * The helpers to consult for restoring `target`, or undefined when none is needed: the target
 * lives in the restarter's namespace, or the restarter holds CAP_SETUID and CAP_SETGID.
 */
export function idmapHelpersFor(target: Cred, r: ThreadCreds, paths?: IdmapHelperPaths): MapHelpers | undefined {
  if (target.user.ns.creator === null) return undefined;
  const eff = r.caps.effective;
  if ((eff >> BigInt(CAP_SETUID)) & 1n && (eff >> BigInt(CAP_SETGID)) & 1n) return undefined;
  return findIdmapHelpers(r, paths);
}

/** The emulator's view of the helpers: the subordinate ids of each usable one. */
export function subordinateOf(h: MapHelpers | undefined): Subordinate | undefined {
  if (!h) return undefined;
  return { ...(h.uid.path ? { uids: h.uid.ranges } : {}), ...(h.gid.path ? { gids: h.gid.ranges } : {}) };
}

/**
 * `ops` with the first unshare_user op told which of its maps newuidmap / newgidmap write (`w`:
 * firstLevelMaps' decision, the one prepare() judged and planned with). Other ops are returned as is.
 */
export function withIdmapHelpers(ops: readonly NativeRestartOp[], h: MapHelpers | undefined, w: FirstLevelMaps | undefined): NativeRestartOp[] {
  const out = [...ops];
  const i = out.findIndex((o) => o.op === 'unshare_user');
  if (!h || !w || i < 0 || (w.uid !== 'helper' && w.gid !== 'helper')) return out;
  out[i] = {
    ...(out[i] as Extract<NativeRestartOp, { op: 'unshare_user' }>),
    ...(w.uid === 'helper' ? { uidHelper: h.uid.path! } : {}),
    ...(w.gid === 'helper' ? { gidHelper: h.gid.path! } : {}),
  };
  return out;
}

/** Which first-level maps newuidmap / newgidmap write (the restore plan's firstLevelHelpers). */
export function firstLevelHelpersOf(w: FirstLevelMaps | undefined): { uid?: boolean; gid?: boolean } | undefined {
  if (!w) return undefined;
  return w.uid === 'helper' || w.gid === 'helper' ? { uid: w.uid === 'helper', gid: w.gid === 'helper' } : undefined;
}
