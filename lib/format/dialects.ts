// The two numberings the linux-cr series wrote. The seed's kernel (v21, 2010) numbered the task
// part of an image from TREE = 101; early in 2011 (towards v23) a PIDS record (101) and a PID
// object (1) were inserted, shifting every later record and object number up by one. Nothing
// else moved: the core records (1-8), the blocks of files, memory, IPC, signals and sockets,
// TAIL and ERROR, and our extension records (8001-8099) read the same in both.
import { RecordType } from './constants';

export type Dialect = 'v21' | 'v23';
export const DIALECT_NAMES: readonly Dialect[] = ['v21', 'v23'];
/** What encode writes unless told otherwise: the seed's own numbering. */
export const DEFAULT_DIALECT: Dialect = 'v21';

/** The record types that moved between dialects. */
export interface TaskRecordTypes {
  /** v23 only (0 in v21). */
  readonly PIDS: number;
  readonly TREE: number;
  readonly TASK: number;
  readonly TASK_NS: number;
  readonly TASK_OBJS: number;
  readonly RESTART_BLOCK: number;
  readonly THREAD: number;
  readonly CPU: number;
  readonly NS: number;
  readonly UTS_NS: number;
  readonly IPC_NS: number;
  readonly MNT_NS: number;
  readonly CAPABILITIES: number;
  readonly USER_NS: number;
  readonly CRED: number;
  readonly USER: number;
  readonly GROUPINFO: number;
  readonly TASK_CREDS: number;
}

/** Object types (enum obj_type). */
export interface ObjTypes {
  readonly IGNORE: number;
  /** v23 only (-1 in v21: no objtype field can hold it). */
  readonly PID: number;
  readonly INODE: number;
  readonly FILE_TABLE: number;
  readonly FILE: number;
  readonly MM: number;
  readonly FS: number;
  readonly SIGHAND: number;
  readonly SIGNAL: number;
  readonly NS: number;
  readonly UTS_NS: number;
  readonly IPC_NS: number;
  readonly MNT_NS: number;
  readonly USER_NS: number;
  readonly CRED: number;
  readonly USER: number;
  readonly GROUPINFO: number;
  readonly SOCK: number;
  readonly TTY: number;
  readonly SECURITY_PTR: number;
  readonly SECURITY: number;
  readonly NET_NS: number;
  readonly NETDEV: number;
  readonly SEM_UNDO: number;
}

export interface DialectTable {
  readonly name: Dialect;
  readonly record: TaskRecordTypes;
  readonly obj: ObjTypes;
  /** The highest object type of the table; an OBJREF naming a larger one is refused. */
  readonly objTypeMax: number;
  /** 'CRED', 'GROUPINFO', or 'TYPE_1234' for a number the series does not name. */
  recordName(type: number): string;
  objTypeName(type: number): string;
}

// Written out as literals, as the reference's tables give them (and so that the engine keeps
// them as fast objects: the reader consults them per record).
const V21_RECORDS: TaskRecordTypes = {
  PIDS: 0, TREE: 101, TASK: 102, TASK_NS: 103, TASK_OBJS: 104, RESTART_BLOCK: 105, THREAD: 106, CPU: 107,
  NS: 108, UTS_NS: 109, IPC_NS: 110, MNT_NS: 111, CAPABILITIES: 112,
  USER_NS: 113, CRED: 114, USER: 115, GROUPINFO: 116, TASK_CREDS: 117,
};
const V23_RECORDS: TaskRecordTypes = {
  PIDS: 101, TREE: 102, TASK: 103, TASK_NS: 104, TASK_OBJS: 105, RESTART_BLOCK: 106, THREAD: 107, CPU: 108,
  NS: 109, UTS_NS: 110, IPC_NS: 111, MNT_NS: 112, CAPABILITIES: 113,
  USER_NS: 114, CRED: 115, USER: 116, GROUPINFO: 117, TASK_CREDS: 118,
};
const V21_OBJECTS: ObjTypes = {
  IGNORE: 0, PID: -1, INODE: 1, FILE_TABLE: 2, FILE: 3, MM: 4, FS: 5, SIGHAND: 6, SIGNAL: 7,
  NS: 8, UTS_NS: 9, IPC_NS: 10, MNT_NS: 11, USER_NS: 12, CRED: 13, USER: 14, GROUPINFO: 15,
  SOCK: 16, TTY: 17, SECURITY_PTR: 18, SECURITY: 19, NET_NS: 20, NETDEV: 21, SEM_UNDO: 22,
};
const V23_OBJECTS: ObjTypes = {
  IGNORE: 0, PID: 1, INODE: 2, FILE_TABLE: 3, FILE: 4, MM: 5, FS: 6, SIGHAND: 7, SIGNAL: 8,
  NS: 9, UTS_NS: 10, IPC_NS: 11, MNT_NS: 12, USER_NS: 13, CRED: 14, USER: 15, GROUPINFO: 16,
  SOCK: 17, TTY: 18, SECURITY_PTR: 19, SECURITY: 20, NET_NS: 21, NETDEV: 22, SEM_UNDO: 23,
};

/**
 * The other blocks (architecture 201-299, files 301.., memory 401.., IPC 501.., signals 601..,
 * sockets 701..) number alike in both dialects; the reader interprets none of them, and names
 * them by block in messages ('FILES_302').
 */
const BLOCKS: ReadonlyArray<readonly [number, string]> = [
  [201, 'ARCH'], [301, 'FILES'], [401, 'MEMORY'], [501, 'IPC'], [601, 'SIGNALS'], [701, 'SOCKETS'],
];
function blockName(t: number): string | undefined {
  for (const [from, n] of BLOCKS) if (t >= from && t < from + 99) return `${n}_${t}`;
  return undefined;
}

function table(name: Dialect, record: TaskRecordTypes, obj: ObjTypes): DialectTable {
  const names = new Map<number, string>(Object.entries(RecordType).map(([k, v]) => [v, k] as [number, string]));
  for (const [k, v] of Object.entries(record)) if (v > 0) names.set(v, k);
  const objNames = new Map<number, string>(Object.entries(obj).filter(([, v]) => v >= 0).map(([k, v]) => [v, k] as [number, string]));
  return {
    name,
    record: Object.freeze(record),
    obj: Object.freeze(obj),
    objTypeMax: obj.SEM_UNDO,
    recordName: (t) => names.get(t) ?? blockName(t) ?? `TYPE_${t}`,
    objTypeName: (t) => objNames.get(t) ?? `OBJ_${t}`,
  };
}

export const V21: DialectTable = table('v21', V21_RECORDS, V21_OBJECTS);
export const V23: DialectTable = table('v23', V23_RECORDS, V23_OBJECTS);
export const DIALECTS: Readonly<Record<Dialect, DialectTable>> = { v21: V21, v23: V23 };

export function isDialect(s: unknown): s is Dialect {
  return s === 'v21' || s === 'v23';
}
