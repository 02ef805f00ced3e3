// The `inspect --json` schema (docs/inspect-json.md) back to an image, as crit's encode does.
// Sharing comes from the objrefs the JSON carries (equal objrefs: one object); where they are
// null, equal values are one object. Every JSON -> Image mapping lives here and nowhere
// else; the image carries what encode needs (its dialect and prefix too).
import { encode } from '../format/encode';
import { INSPECT_SCHEMA_VERSION } from '../inspect/json';
import { isDialect, type Dialect } from '../format/dialects';
import type { CredLayout, Image, ImageHeader, ImagePrefix, SecurityObject } from '../format/types';
import { SECBIT, type Cred, type GroupInfo, type IdMapExtent, type TaskCreds, type User, type UserNamespace } from '../model/types';
import { parseCapHex } from '../model/capabilities';
import { sameCred } from '../model/creds';
import { capsFromNames } from './caps';
import { InteropError } from './types';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads one JSON value at a path; every failure names the path and the rule. */
class Reader {
  constructor(readonly path: string, readonly v: unknown) {}
  at(key: string | number): Reader {
    const obj = this.v as Record<string | number, unknown>;
    return new Reader(typeof key === 'number' ? `${this.path}[${key}]` : `${this.path}.${key}`, obj[key]);
  }
  fail(rule: string): never {
    throw new InteropError(`${this.path.replace(/^\$\.?/, '') || 'the JSON'}: ${rule}`);
  }
  get present(): boolean {
    return this.v !== undefined;
  }
  get isNull(): boolean {
    return this.v === null || this.v === undefined;
  }
  object(): this {
    if (!isObject(this.v)) this.fail('expected an object');
    return this;
  }
  array(): Reader[] {
    if (!Array.isArray(this.v)) this.fail('expected an array');
    return (this.v as unknown[]).map((_, i) => this.at(i));
  }
  int(min: number, max: number): number {
    const v = this.v;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(`expected an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    return v as number;
  }
  u32(): number {
    return this.int(0, 0xffffffff);
  }
  string(): string {
    if (typeof this.v !== 'string') this.fail('expected a string');
    return this.v as string;
  }
  bool(): boolean {
    if (typeof this.v !== 'boolean') this.fail('expected true or false');
    return this.v as boolean;
  }
  /** A u64 as a decimal string (or a safe integer), or "0x..." hex. */
  u64(): bigint {
    const v = this.v;
    let n: bigint;
    try {
      if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
      else if (typeof v === 'string' && /^(\d+|0x[0-9a-fA-F]+)$/.test(v)) n = BigInt(v);
      else return this.fail('expected an unsigned 64-bit number as a decimal or 0x string');
    } catch {
      return this.fail('not a number');
    }
    if (n < 0n || n >= 1n << 64n) this.fail('out of the u64 range');
    return n;
  }
  /** A capability set: 16 hex digits as /proc shows them, or an array of names. */
  caps(): bigint {
    if (Array.isArray(this.v)) return capsFromNames(this.v as string[], this.path.replace(/^\$\.?/, ''));
    if (typeof this.v !== 'string') this.fail('expected a hex capability set or an array of capability names');
    try {
      return parseCapHex(this.v as string);
    } catch {
      return this.fail(`not a capability set: ${JSON.stringify(this.v)}`);
    }
  }
  objref(): number | null {
    return this.isNull ? null : this.int(1, 0x7fffffff);
  }
}

function extents(r: Reader): IdMapExtent[] | undefined {
  if (r.isNull) return undefined;
  return r.array().map((e) => ({ inside: e.object().at('inside').u32(), outside: e.at('outside').u32(), count: e.at('count').u32() }));
}

function securebitsOf(r: Reader): number | null {
  const n = r.at('securebits');
  if (n.present) return n.v === null ? null : n.u32();
  const names = r.at('securebitNames');
  if (names.isNull) return names.present ? null : r.fail('securebits: missing');
  let bits = 0;
  for (const x of names.array()) {
    const s = x.string();
    const m = /^bit_(\d+)$/.exec(s);
    const bit = m ? 1 << Number(m[1]) : (SECBIT as Record<string, number>)[s.replace(/^SECBIT_/, '')];
    if (bit === undefined || (m && Number(m[1]) > 31)) x.fail(`unknown securebit '${s}'`);
    bits |= bit;
  }
  return bits >>> 0;
}

function headerOf(r: Reader): { header: ImageHeader; credLayout: CredLayout } {
  r.object();
  const bo = r.at('byteOrder').string();
  if (bo !== 'little' && bo !== 'big') r.at('byteOrder').fail("expected 'little' or 'big'");
  const k = r.at('kernel').object();
  const constants = r.at('constants').array().map((c) => c.int(0, 0xffff));
  if (constants.length !== 12) r.at('constants').fail(`expected 12 numbers, got ${constants.length}`);
  const uts = r.at('uts').object();
  const layout = r.at('credLayout').int(88, 96);
  if (layout !== 88 && layout !== 96) r.at('credLayout').fail('expected 88 or 96');
  return {
    header: {
      byteOrder: bo as 'little' | 'big',
      arch: r.at('arch').int(0, 0xffff),
      kernel: { major: k.at('major').int(0, 0xffff), minor: k.at('minor').int(0, 0xffff), patch: k.at('patch').int(0, 0xffff), rev: k.at('rev').int(0, 0xffff) },
      constants,
      time: r.at('time').u64(),
      uflags: r.at('uflags').u64(),
      uts: { release: uts.at('release').string(), version: uts.at('version').string(), machine: uts.at('machine').string() },
    },
    credLayout: layout as CredLayout,
  };
}

/** Hex bytes at a path as a byte string (as ImagePrefix holds them); null (or absent) is null. */
function hexOrNull(r: Reader): string | null {
  if (r.isNull) return null;
  const hex = r.string();
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) r.fail('expected hex bytes');
  return Buffer.from(hex, 'hex').toString('latin1');
}

/** The real-kernel prefix the JSON states; absent: the one encode writes by default. */
function prefixOf(r: Reader): ImagePrefix | undefined {
  if (!r.present) return undefined;
  r.object();
  const prefix: ImagePrefix = {};
  const arch = hexOrNull(r.at('headerArch'));
  if (arch !== null) prefix.headerArch = arch;
  const c = r.at('container');
  if (!c.isNull) {
    c.object();
    const bodyAt: Reader = c.at('body');
    const body = hexOrNull(bodyAt);
    if (body === null) return bodyAt.fail('missing: CONTAINER cannot be written without its body');
    const container: NonNullable<ImagePrefix['container']> = { body };
    const lsmName = hexOrNull(c.at('lsmName'));
    if (lsmName !== null) container.lsmName = lsmName;
    const lsmInfo = hexOrNull(c.at('lsmInfo'));
    if (lsmInfo !== null) container.lsmInfo = lsmInfo;
    prefix.container = container;
  }
  return prefix;
}

/**
 * The record numbering: the JSON's `dialect`; a schema-1 document (written before dialects) came
 * from an image in the 2011 numbering, the only one cr-creds wrote then.
 */
function dialectOf(root: Reader, version: number): Dialect | undefined {
  const d = root.at('dialect');
  if (!d.present) return version === 1 ? 'v23' : undefined;
  const name = d.string();
  return isDialect(name) ? name : d.fail(`expected 'v21' or 'v23', got '${name}'`);
}

/** The image an `inspect --json` document describes. */
export function fromInspectJson(json: unknown): Image {
  const root = new Reader('$', json).object();
  const version = root.at('schemaVersion');
  const schema = version.present ? version.int(1, 0x7fffffff) : INSPECT_SCHEMA_VERSION;
  if (schema > INSPECT_SCHEMA_VERSION) version.fail(`${String(version.v)} is newer than this cr-creds reads (${INSPECT_SCHEMA_VERSION})`);
  const { header, credLayout } = headerOf(root.at('header'));

  // Objects by objref when the JSON has it, else by value.
  const users = new Map<string, User>();
  const groupLists = new Map<string, GroupInfo>();
  const creds = new Map<string, Cred>();
  const ids = new Map<object, number>();
  const idOf = (o: object) => {
    let n = ids.get(o);
    if (n === undefined) ids.set(o, (n = ids.size));
    return n;
  };
  const nsList = root.at('userNamespaces').array();
  const namespaces: UserNamespace[] = [];
  const userOf = (r: Reader): User => {
    r.object();
    const uid = r.at('uid').u32();
    const nsIndex = r.at('ns').int(0, nsList.length - 1);
    const ns = namespaces[nsIndex];
    if (!ns) r.at('ns').fail(`namespace ${nsIndex} is listed after its use (creators come first)`);
    const ref = r.at('objref').objref();
    const key = ref === null ? `v${uid}/${nsIndex}` : `r${ref}`;
    let u = users.get(key);
    if (!u) users.set(key, (u = { uid, ns }));
    else if (u.uid !== uid || u.ns !== ns) r.fail(`objref ${ref} names two different users`);
    return u;
  };
  nsList.forEach((n, i) => {
    n.object();
    const index = n.at('index');
    if (index.present && index.int(0, 0x7fffffff) !== i) index.fail(`expected ${i}: namespaces are listed in index order`);
    const ns: { -readonly [K in keyof UserNamespace]: UserNamespace[K] } = { creator: null };
    // A namespace's creator lives in a namespace listed before it.
    namespaces.push(ns);
    if (!n.at('creator').isNull) {
      const cr = n.at('creator');
      if (cr.object().at('ns').int(0, nsList.length - 1) >= i) cr.at('ns').fail('a creator must live in a namespace listed before');
      ns.creator = userOf(cr);
    }
    const uidMap = extents(n.at('uidMap'));
    const gidMap = extents(n.at('gidMap'));
    if (uidMap) ns.uidMap = uidMap;
    if (gidMap) ns.gidMap = gidMap;
    const sg = n.at('setgroups');
    if (!sg.isNull) {
      const v = sg.string();
      if (v !== 'allow' && v !== 'deny') sg.fail("expected 'allow', 'deny' or null");
      ns.setgroups = v as 'allow' | 'deny';
    }
    if (!n.at('inode').isNull) ns.inode = n.at('inode').u64();
  });

  const credOf = (r: Reader): Cred => {
    r.object();
    const gids = r.at('groups').array().map((g) => g.u32());
    for (let i = 1; i < gids.length; i++) if (gids[i] <= gids[i - 1]) r.at('groups').fail('groups must be strictly ascending');
    const gref = r.at('groupsObjref').objref();
    const gkey = gref === null ? `v${gids.join(',')}` : `r${gref}`;
    let groups = groupLists.get(gkey);
    if (!groups) groupLists.set(gkey, (groups = { gids }));
    else if (groups.gids.join(',') !== gids.join(',')) r.at('groupsObjref').fail(`objref ${gref} names two different group lists`);
    const caps = r.at('caps').object();
    const c: Cred = {
      uid: r.at('uid').u32(),
      euid: r.at('euid').u32(),
      suid: r.at('suid').u32(),
      fsuid: r.at('fsuid').u32(),
      gid: r.at('gid').u32(),
      egid: r.at('egid').u32(),
      sgid: r.at('sgid').u32(),
      fsgid: r.at('fsgid').u32(),
      groups,
      user: userOf(r.at('user')),
      caps: {
        inheritable: caps.at('inheritable').caps(),
        permitted: caps.at('permitted').caps(),
        effective: caps.at('effective').caps(),
        bounding: caps.at('bounding').caps(),
        ambient: caps.at('ambient').present ? caps.at('ambient').caps() : 0n,
      },
      securebits: securebitsOf(r),
    };
    const sec = r.at('secRef');
    if (!sec.isNull && sec.int(0, 0x7fffffff) !== 0) c.secRef = sec.v as number;
    const ref = r.at('objref').objref();
    const key = ref === null
      ? `v${[c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid, idOf(c.groups), idOf(c.user), c.caps.inheritable, c.caps.permitted, c.caps.effective, c.caps.bounding, c.caps.ambient, c.securebits, c.secRef ?? 0].join('|')}`
      : `r${ref}`;
    const known = creds.get(key);
    if (known) {
      if (!(sameCred(known, c) && known.groups === c.groups && known.user === c.user)) r.at('objref').fail(`objref ${ref} names two different creds`);
      return known;
    }
    creds.set(key, c);
    return c;
  };

  const tasks: TaskCreds[] = root.at('tasks').array().map((t) => {
    t.object();
    const p = t.at('pids').object();
    const s32 = (k: string) => p.at(k).int(-0x80000000, 0x7fffffff);
    const cred = credOf(t.at('cred'));
    const same = t.at('ecredSameAsCred');
    const ecred = (same.present && same.bool()) || !t.at('ecred').present ? cred : credOf(t.at('ecred'));
    return {
      pids: { vpid: s32('vpid'), vppid: s32('vppid'), vtgid: s32('vtgid'), vpgid: s32('vpgid'), vsid: s32('vsid'), depth: p.at('depth').u32() },
      cred,
      ecred,
      noNewPrivs: t.at('noNewPrivs').present ? t.at('noNewPrivs').bool() : false,
    };
  });

  const image: Image = { header, credLayout, tasks };
  const dialect = dialectOf(root, schema);
  if (dialect) image.dialect = dialect;
  const prefix = prefixOf(root.at('prefix'));
  if (prefix) image.prefix = prefix;
  const sec = root.at('security');
  if (sec.present && sec.array().length > 0) {
    image.security = sec.array().map((s): SecurityObject => {
      s.object();
      const body = s.at('body');
      if (!body.present) body.fail('missing: the SECURITY object cannot be written without its bytes');
      const hex = body.string();
      if (!/^([0-9a-fA-F]{2})*$/.test(hex)) body.fail('expected hex bytes');
      const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
      if (s.at('length').present && s.at('length').u32() !== bytes.byteLength) s.at('length').fail(`says ${String(s.at('length').v)} bytes, body has ${bytes.byteLength}`);
      return { objref: s.at('objref').int(1, 0x7fffffff), type: s.at('type').u32(), body: bytes };
    });
  }
  return image;
}

/** `cr-creds encode`: the image bytes an `inspect --json` document describes. */
export function encodeInspectJson(json: unknown): Uint8Array {
  return encode(fromInspectJson(json));
}
