// A cred's user-namespace chain, and who writes the maps of its first level.
import type { Cred, IdMapExtent, UserNamespace } from '../model/types';
import { type IdRange, helperMapRule, helperWriterRule } from '../emulator/userns';

/** One level below the restarter's namespace: the namespace and its creator's uid in the parent. */
export interface ChainLevel {
  ns: UserNamespace;
  creatorUid: number;
}

/** Levels from the image's root namespace (excluded) down to the cred's own, outermost first. */
export function nsChain(cred: Cred): ChainLevel[] {
  const out: ChainLevel[] = [];
  const seen = new Set<UserNamespace>();
  for (let ns = cred.user.ns; ns.creator !== null; ns = ns.creator.ns) {
    if (seen.has(ns)) throw new RangeError('user namespace chain has a cycle');
    seen.add(ns);
    out.push({ ns, creatorUid: ns.creator.uid });
  }
  return out.reverse();
}

// --- who writes the maps of the first level --------------------------------------------------

/** newuidmap or newgidmap as the restarter may use it (lib/restart/idmap-helpers.ts finds it). */
export interface MapHelper {
  name: 'newuidmap' | 'newgidmap';
  /** Its path when usable by the restarter, else null (and `unusable` says why). */
  path: string | null;
  unusable?: string;
  /** The restarter's subordinate ids (/etc/subuid or /etc/subgid lines naming it). */
  ranges: readonly IdRange[];
  /** The file they come from, for messages. */
  file: string;
}

export interface MapHelpers {
  uid: MapHelper;
  gid: MapHelper;
}

/** The creds of the restarter that the first level's map writers start from. */
export interface MapWriterCreds {
  uid: number;
  euid: number;
  gid: number;
  egid: number;
  noNewPrivs: boolean;
  caps: { effective: bigint };
}

/** 'none': no map; 'caller': written by the restarter's own map writer; 'helper': by newuidmap / newgidmap. */
export type MapWriter = 'none' | 'caller' | 'helper';

export interface FirstLevelMaps {
  uid: MapWriter;
  gid: MapWriter;
  /** Every map that cannot be written, in words (empty when both can). */
  refused: { rule: string; message: string }[];
}

/** A single-line map of exactly `id`, the only map a writer without the capability may write. */
export function isSelfMap(map: readonly IdMapExtent[] | undefined, id: number): boolean {
  return !map || map.length === 0 || (map.length === 1 && map[0].count === 1 && map[0].outside === id);
}

const CAP_SETUID = 7n;
const CAP_SETGID = 6n;

/**
 * Who writes the first level's uid_map and gid_map (the level the restarter creates, whose maps
 * its map writer in the restarter's namespace writes), following user_namespaces(7) and, where
 * the restarter lacks CAP_SETUID / CAP_SETGID, newuidmap / newgidmap's own rules (shadow 4.13:
 * each outer range inside the restarter's subordinate ids or its own id; newgidmap writes "deny"
 * to setgroups when no line came from /etc/subgid). The emulator (lib/emulator/sys-restart.ts) plays
 * the same rules (helperMapRule, helperWriterRule in lib/emulator/userns.ts).
 */
export function firstLevelMaps(level: ChainLevel, r: MapWriterCreds, helpers: MapHelpers | undefined): FirstLevelMaps {
  const { uidMap, gidMap, setgroups } = level.ns;
  const out: FirstLevelMaps = { uid: 'none', gid: 'none', refused: [] };
  const writerRule = helperWriterRule(level.creatorUid, r.uid, r.gid, r.egid) ?? (r.noNewPrivs ? 'no_new_privs keeps the set-id helper from its privilege' : null);
  const viaHelper = (kind: 'uid' | 'gid', map: readonly IdMapExtent[], h: MapHelper, capName: string): MapWriter => {
    const file = `${kind}_map`;
    if (!h.path) {
      out.refused.push({
        rule: `${kind}-map`,
        message: `${file} ${JSON.stringify(map)} maps more than the caller's own ${kind === 'uid' ? 'euid' : 'egid'}; that needs ${capName}, or ${h.name}: ${h.unusable ?? 'not usable'}` +
          ` (${h.name} would write it where installed, with ${h.file} granting the caller every outer range)`,
      });
      return 'none';
    }
    if (writerRule) {
      out.refused.push({ rule: `${kind}-map-helper`, message: `${file} needs ${h.name}, which cannot write it: ${writerRule}` });
      return 'none';
    }
    const v = helperMapRule(map, kind, kind === 'uid' ? r.uid : r.gid, h.ranges);
    if (!v.ok) {
      out.refused.push({ rule: `${kind}-map-subordinate`, message: `${file}: ${h.name} would refuse it: ${v.why}` });
      return 'none';
    }
    if (v.setgroupsDeny && setgroups === 'allow') {
      out.refused.push({
        rule: 'setgroups-deny',
        message: `${file}: newgidmap writes "deny" to setgroups for a map of the caller's own gid alone, and the image's setgroups is "allow"`,
      });
      return 'none';
    }
    return 'helper';
  };

  if (uidMap && uidMap.length > 0) {
    if ((r.caps.effective >> CAP_SETUID) & 1n || isSelfMap(uidMap, level.creatorUid)) out.uid = 'caller';
    else out.uid = viaHelper('uid', uidMap, helpers?.uid ?? noHelper('newuidmap'), 'CAP_SETUID');
  }
  if (gidMap && gidMap.length > 0) {
    const setgid = ((r.caps.effective >> CAP_SETGID) & 1n) !== 0n;
    if (setgid || (isSelfMap(gidMap, r.egid) && setgroups === 'deny')) out.gid = 'caller';
    else if (helpers?.gid.path) out.gid = viaHelper('gid', gidMap, helpers.gid, 'CAP_SETGID');
    else {
      // Today's rules alone (no newgidmap): the own egid, after setgroups "deny".
      const h = helpers?.gid ?? noHelper('newgidmap');
      if (!isSelfMap(gidMap, r.egid)) viaHelper('gid', gidMap, h, 'CAP_SETGID');
      if (setgroups !== 'deny')
        out.refused.push({
          rule: 'setgroups-deny',
          message: `without CAP_SETGID a gid_map may only be written after setgroups is set to deny (or by newgidmap: ${h.unusable ?? 'not usable'})`,
        });
    }
  }
  return out;
}

function noHelper(name: 'newuidmap' | 'newgidmap'): MapHelper {
  return { name, path: null, unusable: 'not consulted', ranges: [], file: name === 'newuidmap' ? '/etc/subuid' : '/etc/subgid' };
}
