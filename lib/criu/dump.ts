// A CRIU dump as far as credentials go: the plain decoded messages, one task per thread.
import type {
  CredsEntry,
  InventoryEntry,
  PstreeEntry,
  TaskKobjIdsEntry,
  UsernsEntry,
} from './schema';

/** One thread of a dumped process, with the creds of its core-TID.img. */
export interface CriuTask {
  /** Thread-group id: the process's pid (pstree_entry.pid). */
  pid: number;
  /** This thread's id (the leader's tid equals pid). core-TID.img is named by it. */
  tid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** CoreEntry.mtype (MARCH). */
  mtype: number;
  /** ThreadCoreEntry.creds. */
  creds: CredsEntry;
  /** The process's namespace and object ids (ids-PID.img, else CoreEntry.ids), if dumped. */
  ids?: TaskKobjIdsEntry;
}

/** A user namespace CRIU dumped (userns-ID.img): the tree's own, with its maps. */
export interface CriuUserns {
  /** The namespace id (TaskKobjIdsEntry.user_ns_id) the file is named by. */
  id: number;
  entry: UsernsEntry;
}

export interface CriuDump {
  inventory: InventoryEntry;
  /** In CRIU's order: the tree's root first, then depth-first. */
  pstree: PstreeEntry[];
  /** Every thread of every process, in pstree order, each process's threads in its order. */
  tasks: CriuTask[];
  userns: CriuUserns[];
}

/**
 * Something the source holds that the target format cannot (a loss), or something the target
 * needs that the source does not record and the conversion had to assume.
 */
export interface LossyItem {
  /** A stable key: 'lsm_profile', 'ecred', 'userns-nested', ... (docs/criu-interop.md). */
  what: string;
  /** The thread (CRIU tid, linux-cr vpid) it concerns, if one. */
  tid?: number;
  /** One plain sentence. */
  detail: string;
}
