// Kubernetes: a Pod spec fragment with the pod's and one container's securityContext
// (core/v1 PodSecurityContext and SecurityContext). The field names are the API's; the tests
// check them against the kubernetes-models types and validate with its published schemas.
import type { Image } from '../format/types';
import { CAP, CAP_NAMES, capBit } from '../model/capabilities';
import { ALL_KNOWN_CAPS, capFromName, capsToNames, unnamedCaps } from './caps';
import { identityImage } from './imported';
import { Notes, checkEcred, checkIds, checkSecurebits, namespaceLevels, selectTask } from './task';
import { toYaml } from './yaml';
import { InteropError, type Exported, type Imported, type InteropNote, type TaskChoice } from './types';

export interface K8sCapabilities {
  add?: string[];
  drop?: string[];
}

/** core/v1 SecurityContext: the fields cr-creds reads or writes. */
export interface K8sSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: K8sCapabilities;
}

/** core/v1 PodSecurityContext: the fields cr-creds reads or writes. */
export interface K8sPodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  supplementalGroups?: number[];
  fsGroup?: number;
}

/** A core/v1 PodSpec fragment: merge it into a pod's spec (containers merge by name). */
export interface K8sPodSpecIdentity {
  hostUsers?: boolean;
  securityContext: K8sPodSecurityContext;
  containers: [{ name: string; securityContext: K8sSecurityContext }];
}

/**
 * The capabilities a container gets when its securityContext adds and drops none: containerd's
 * default (the same as Docker's); CRI-O's default is smaller. Names without CAP_, as k8s writes them.
 */
export const RUNTIME_DEFAULT_CAPS: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP',
  'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
];

export interface K8sOptions extends TaskChoice {
  /** The container's name in the fragment (default "main"). */
  container?: string;
}

export function toK8s(image: Image, opts: K8sOptions = {}): Exported<K8sPodSpecIdentity> {
  const { index, task } = selectTask(image, opts);
  const c = task.cred;
  const notes = new Notes();
  checkEcred(task, notes);
  checkIds(c, notes);
  checkSecurebits(c, 0, 'Kubernetes', notes);
  if (unnamedCaps(c.caps.bounding) !== 0n) notes.add('caps-unnamed', `bounding capabilities 0x${unnamedCaps(c.caps.bounding).toString(16)} have no name`);
  if (c.caps.inheritable !== 0n) notes.add('caps-inheritable', 'the runtime leaves the inheritable set empty');
  if (c.caps.ambient !== 0n) notes.add('caps-ambient', 'Kubernetes has no ambient capabilities: a program that is not root starts with none');
  if (task.noNewPrivs && (c.caps.bounding & capBit(CAP.SYS_ADMIN)) !== 0n)
    notes.add('no-new-privs', 'allowPrivilegeEscalation is always true for a container with CAP_SYS_ADMIN');
  const pod: K8sPodSecurityContext = { runAsUser: c.uid, runAsGroup: c.gid };
  if (c.uid !== 0) pod.runAsNonRoot = true;
  if (c.groups.gids.length > 0) pod.supplementalGroups = [...c.groups.gids];
  const sc: K8sSecurityContext = {
    runAsUser: c.uid,
    runAsGroup: c.gid,
    allowPrivilegeEscalation: !task.noNewPrivs,
    capabilities: { drop: ['ALL'], add: capsToNames(c.caps.bounding).map((n) => n.slice(4)) },
  };
  const value: K8sPodSpecIdentity = { securityContext: pod, containers: [{ name: opts.container ?? 'main', securityContext: sc }] };
  const levels = namespaceLevels(c);
  if (levels.length > 0) {
    value.hostUsers = false;
    notes.add('userns-maps', `hostUsers: false gives a user namespace whose maps the kubelet chooses${levels.length > 1 ? `; the task is ${levels.length} namespaces deep` : ''}`);
  }
  return { task: index, value, text: toYaml(value), unexpressed: notes.list };
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function optId(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InteropError(`${where}: expected an id, got ${JSON.stringify(v)}`);
  return v;
}

function k8sCaps(names: unknown, where: string): bigint {
  if (names === undefined || names === null) return 0n;
  if (!Array.isArray(names)) throw new InteropError(`${where}: expected an array of capability names`);
  let set = 0n;
  names.forEach((n, i) => (set |= typeof n === 'string' && n.toUpperCase() === 'ALL' ? ALL_KNOWN_CAPS : capBit(capFromName(n, `${where}[${i}]`))));
  return set;
}

/**
 * An image from a Pod, a PodSpec, a Container or a bare SecurityContext (JSON). With several
 * containers, `container` names the one (default: the first).
 */
export function fromK8s(input: unknown, opts: { container?: string } = {}): Imported {
  if (!isObject(input)) throw new InteropError('a Kubernetes object must be a JSON object');
  const spec = isObject(input.spec) ? input.spec : input;
  let pod: Json = {};
  let sc: Json;
  let hostUsers: unknown;
  if (Array.isArray(spec.containers)) {
    if (spec.securityContext !== undefined && !isObject(spec.securityContext)) throw new InteropError('spec.securityContext: expected an object');
    pod = (spec.securityContext as Json | undefined) ?? {};
    hostUsers = spec.hostUsers;
    const list = spec.containers as unknown[];
    const found = opts.container === undefined ? list[0] : list.find((x) => isObject(x) && x.name === opts.container);
    if (!isObject(found)) throw new InteropError(opts.container === undefined ? 'the pod has no container' : `the pod has no container named '${opts.container}'`);
    sc = isObject(found.securityContext) ? found.securityContext : {};
  } else if (isObject(input.securityContext)) sc = input.securityContext;
  else sc = input;
  const assumed: InteropNote[] = [];
  const ignored: InteropNote[] = [];
  const uid = optId(sc.runAsUser, 'securityContext.runAsUser') ?? optId(pod.runAsUser, 'podSecurityContext.runAsUser');
  const gid = optId(sc.runAsGroup, 'securityContext.runAsGroup') ?? optId(pod.runAsGroup, 'podSecurityContext.runAsGroup');
  if (uid === undefined) assumed.push({ what: 'uid', detail: "runAsUser not given: the container image's USER; assumed 0" });
  if (gid === undefined) assumed.push({ what: 'gid', detail: "runAsGroup not given: the container image's group; assumed 0" });
  const nonRoot = sc.runAsNonRoot ?? pod.runAsNonRoot;
  if (nonRoot === true && (uid ?? 0) === 0) throw new InteropError('runAsNonRoot with uid 0: the kubelet refuses to start this container');
  const groups = new Set<number>();
  const supp = pod.supplementalGroups ?? [];
  if (!Array.isArray(supp)) throw new InteropError('podSecurityContext.supplementalGroups: expected an array');
  supp.forEach((g, i) => groups.add(optId(g, `podSecurityContext.supplementalGroups[${i}]`) as number));
  const fsGroup = optId(pod.fsGroup, 'podSecurityContext.fsGroup');
  if (fsGroup !== undefined) {
    groups.add(fsGroup);
    assumed.push({ what: 'fs-group', detail: `fsGroup ${fsGroup} is added to the supplementary groups` });
  }
  assumed.push({ what: 'groups-image', detail: "the runtime also adds the groups the container image's /etc/group gives the user: the image has only these" });
  let caps: bigint;
  const privileged = sc.privileged === true;
  if (privileged) {
    caps = ALL_KNOWN_CAPS;
    assumed.push({ what: 'privileged', detail: 'privileged: every capability, allowPrivilegeEscalation true' });
  } else {
    const c = sc.capabilities;
    if (c !== undefined && !isObject(c)) throw new InteropError('securityContext.capabilities: expected an object');
    const drop = k8sCaps(c?.drop, 'securityContext.capabilities.drop');
    const add = k8sCaps(c?.add, 'securityContext.capabilities.add');
    const base = RUNTIME_DEFAULT_CAPS.reduce((s, n) => s | capBit(CAP_NAMES.indexOf(`CAP_${n}`)), 0n);
    if (drop !== ALL_KNOWN_CAPS) assumed.push({ what: 'caps-default', detail: `not every capability dropped: starts from containerd's default set (${RUNTIME_DEFAULT_CAPS.join(', ')})` });
    caps = (base & ~drop) | add;
  }
  if (sc.allowPrivilegeEscalation !== undefined && typeof sc.allowPrivilegeEscalation !== 'boolean')
    throw new InteropError('securityContext.allowPrivilegeEscalation: expected true or false');
  const nnp = !privileged && sc.allowPrivilegeEscalation === false && (caps & capBit(CAP.SYS_ADMIN)) === 0n;
  if (hostUsers === false) ignored.push({ what: 'userns-maps', detail: 'hostUsers: false: the kubelet chooses the maps; the image keeps the task in the restarter\'s namespace' });
  for (const k of ['seLinuxOptions', 'appArmorProfile', 'seccompProfile'])
    if (sc[k] !== undefined || pod[k] !== undefined) ignored.push({ what: 'lsm', detail: `${k}: an image carries no LSM or seccomp state` });
  const image = identityImage({
    uid: uid ?? 0,
    gid: gid ?? 0,
    groups: [...groups].sort((a, b) => a - b),
    caps: { bounding: caps, permitted: caps, effective: caps, inheritable: 0n, ambient: 0n },
    securebits: 0,
    noNewPrivs: nnp,
  });
  return { image, assumed, ignored };
}
