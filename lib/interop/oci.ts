// OCI runtime spec (config.json): the `process` and `linux` parts a task's identity is made of.
// The field names are the runtime-spec schema's (schema/config-schema.json, config-linux.json);
// the tests validate what this writes against that schema and run it with runc.
import type { Image } from '../format/types';
import type { IdMapExtent } from '../model/types';
import { capsFromNames, capsToNames, unnamedCaps } from './caps';
import { identityImage, u32 } from './imported';
import { Notes, checkEcred, checkIds, checkMapped, checkSecurebits, describeMap, namespaceLevels, selectTask } from './task';
import { InteropError, type Exported, type Imported, type InteropNote, type TaskChoice } from './types';

export interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

export interface OciCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';
  path?: string;
}

/** The parts of a config.json that carry identity; `linux` only when the task is in a user namespace. */
export interface OciIdentity {
  process: { user: OciUser; capabilities: OciCapabilities; noNewPrivileges: boolean };
  linux?: { namespaces: OciNamespace[]; uidMappings: OciIdMapping[]; gidMappings: OciIdMapping[] };
}

const toMappings = (m: readonly IdMapExtent[] | undefined): OciIdMapping[] =>
  (m ?? []).map((e) => ({ containerID: e.inside, hostID: e.outside, size: e.count }));

export function toOci(image: Image, choice: TaskChoice = {}): Exported<OciIdentity> {
  const { index, task } = selectTask(image, choice);
  const c = task.cred;
  const notes = new Notes();
  checkEcred(task, notes);
  checkIds(c, notes);
  checkSecurebits(c, 0, 'the OCI runtime spec', notes);
  const sets = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const;
  for (const s of sets) {
    const extra = unnamedCaps(c.caps[s]);
    if (extra !== 0n) notes.add('caps-unnamed', `${s} capabilities 0x${extra.toString(16)} have no name`);
  }
  const value: OciIdentity = {
    process: {
      user: { uid: c.uid, gid: c.gid, ...(c.groups.gids.length > 0 ? { additionalGids: [...c.groups.gids] } : {}) },
      capabilities: Object.fromEntries(sets.map((s) => [s, capsToNames(c.caps[s])])) as OciCapabilities,
      noNewPrivileges: task.noNewPrivs,
    },
  };
  const levels = namespaceLevels(c);
  if (levels.length > 0) {
    const ns = levels[0];
    if (levels.length > 1) notes.add('userns-nested', `the task is ${levels.length} user namespaces deep: only the first level is stated`);
    if (ns.uidMap === undefined || ns.gidMap === undefined) notes.add('userns-maps', `the namespace's maps were not recorded (uid_map ${describeMap(ns.uidMap)}, gid_map ${describeMap(ns.gidMap)})`);
    if (ns.creator && ns.creator.uid !== 0) notes.add('userns-creator', `the namespace was created by uid ${ns.creator.uid}; the runtime creates it as its own user`);
    if (ns.setgroups === 'deny') notes.add('userns-setgroups', 'setgroups is deny: a runtime run as root leaves it allow');
    if (levels.length === 1) checkMapped(c, ns.uidMap, ns.gidMap, notes);
    value.linux = { namespaces: [{ type: 'user' }], uidMappings: toMappings(ns.uidMap), gidMappings: toMappings(ns.gidMap) };
  }
  return { task: index, value, text: JSON.stringify(value, null, 2) + '\n', unexpressed: notes.list };
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const fail = (m: string) => new InteropError(m);

/**
 * A bundle's config.json with the identity parts put in: process.user, capabilities and
 * noNewPrivileges replaced; the user namespace and its maps added, or removed when the task
 * has none. Other fields are kept.
 */
export function mergeOci(config: Json, identity: OciIdentity): Json {
  const process = isObject(config.process) ? config.process : {};
  const linux = isObject(config.linux) ? { ...config.linux } : {};
  const others = (Array.isArray(linux.namespaces) ? (linux.namespaces as OciNamespace[]) : []).filter((n) => n.type !== 'user');
  delete linux.uidMappings;
  delete linux.gidMappings;
  if (identity.linux) {
    linux.namespaces = [...others, ...identity.linux.namespaces];
    linux.uidMappings = identity.linux.uidMappings;
    linux.gidMappings = identity.linux.gidMappings;
  } else linux.namespaces = others;
  return { ...config, process: { ...process, ...identity.process }, linux };
}

function ociMappings(v: unknown, where: string): IdMapExtent[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw fail(`${where}: expected an array`);
  return v.map((m, i) => {
    if (!isObject(m)) throw fail(`${where}[${i}]: expected an object`);
    return { inside: u32(m.containerID, `${where}[${i}].containerID`, fail), outside: u32(m.hostID, `${where}[${i}].hostID`, fail), count: u32(m.size, `${where}[${i}].size`, fail) };
  });
}

/** An image from a config.json (or just its process and linux parts). */
export function fromOci(config: unknown): Imported {
  if (!isObject(config)) throw fail('an OCI config must be a JSON object');
  if (!isObject(config.process)) throw fail('process: missing (the OCI config has no process to take the identity from)');
  const p = config.process;
  const assumed: InteropNote[] = [];
  const ignored: InteropNote[] = [];
  const user = p.user === undefined ? {} : p.user;
  if (!isObject(user)) throw fail('process.user: expected an object');
  if (user.uid === undefined) assumed.push({ what: 'uid', detail: 'process.user.uid not given: 0' });
  if (user.gid === undefined) assumed.push({ what: 'gid', detail: 'process.user.gid not given: 0' });
  const uid = user.uid === undefined ? 0 : u32(user.uid, 'process.user.uid', fail);
  const gid = user.gid === undefined ? 0 : u32(user.gid, 'process.user.gid', fail);
  const extra = user.additionalGids === undefined ? [] : user.additionalGids;
  if (!Array.isArray(extra)) throw fail('process.user.additionalGids: expected an array');
  const groups = extra.map((g, i) => u32(g, `process.user.additionalGids[${i}]`, fail));
  assumed.push({ what: 'groups-rootfs', detail: "runc also adds the groups the rootfs's /etc/group gives this user: the image has only additionalGids" });
  if (typeof user.username === 'string') ignored.push({ what: 'username', detail: `process.user.username '${user.username}' (Windows only)` });
  const caps = p.capabilities === undefined ? {} : p.capabilities;
  if (!isObject(caps)) throw fail('process.capabilities: expected an object');
  if (p.capabilities === undefined) assumed.push({ what: 'caps', detail: 'process.capabilities not given: all five sets empty' });
  const set = (k: string) => (caps[k] === undefined ? 0n : capsFromNames(caps[k] as string[], `process.capabilities.${k}`));
  if (p.noNewPrivileges !== undefined && typeof p.noNewPrivileges !== 'boolean') throw fail('process.noNewPrivileges: expected true or false');
  for (const k of ['apparmorProfile', 'selinuxLabel'])
    if (p[k] !== undefined) ignored.push({ what: 'lsm', detail: `process.${k}: an image carries no LSM label` });

  let userns: Parameters<typeof identityImage>[0]['userns'];
  const linux = config.linux;
  if (linux !== undefined && !isObject(linux)) throw fail('linux: expected an object');
  const nss = linux?.namespaces ?? [];
  if (!Array.isArray(nss)) throw fail('linux.namespaces: expected an array');
  const userNs = nss.find((n) => isObject(n) && n.type === 'user') as Json | undefined;
  if (userNs) {
    if (userNs.path !== undefined) ignored.push({ what: 'userns-path', detail: `linux.namespaces: joining the user namespace at ${String(userNs.path)} cannot be recorded: a new one is` });
    const uidMap = ociMappings(linux?.uidMappings, 'linux.uidMappings');
    const gidMap = ociMappings(linux?.gidMappings, 'linux.gidMappings');
    if (!uidMap || !gidMap) assumed.push({ what: 'userns-maps', detail: 'a user namespace without uidMappings/gidMappings: its maps are left unrecorded' });
    assumed.push({ what: 'userns-creator', detail: 'the runtime creates the user namespace: assumed run as root (uid 0)' });
    userns = { creatorUid: 0, uidMap, gidMap };
  }
  const image = identityImage({
    uid,
    gid,
    groups,
    caps: { bounding: set('bounding'), effective: set('effective'), inheritable: set('inheritable'), permitted: set('permitted'), ambient: set('ambient') },
    securebits: 0,
    noNewPrivs: p.noNewPrivileges === true,
    userns,
  });
  assumed.push({ what: 'securebits', detail: 'the spec states no securebits: 0' });
  return { image, assumed, ignored };
}
