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

const TASK_RECORDS = [
  'TREE', 'TASK', 'TASK_NS', 'TASK_OBJS', 'RESTART_BLOCK', 'THREAD', 'CPU',
  'NS', 'UTS_NS', 'IPC_NS', 'MNT_NS', 'CAPABILITIES',
  'USER_NS', 'CRED', 'USER', 'GROUPINFO', 'TASK_CREDS',
] as const;
const OBJECTS_AFTER_PID = [
  'INODE', 'FILE_TABLE', 'FILE', 'MM', 'FS', 'SIGHAND', 'SIGNAL',
  'NS', 'UTS_NS', 'IPC_NS', 'MNT_NS',
  'USER_NS', 'CRED', 'USER', 'GROUPINFO',
  'SOCK', 'TTY', 'SECURITY_PTR', 'SECURITY', 'NET_NS', 'NETDEV', 'SEM_UNDO',
] as const;

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

function table(name: Dialect, shift: 0 | 1): DialectTable {
  const record: Record<string, number> = { PIDS: shift ? 101 : 0 };
  TASK_RECORDS.forEach((n, i) => (record[n] = 101 + shift + i));
  const obj: Record<string, number> = { IGNORE: 0, PID: shift ? 1 : -1 };
  OBJECTS_AFTER_PID.forEach((n, i) => (obj[n] = 1 + shift + i));
  const names = new Map<number, string>(Object.entries(RecordType).map(([k, v]) => [v, k] as [number, string]));
  for (const [k, v] of Object.entries(record)) if (v > 0) names.set(v, k);
  const objNames = new Map<number, string>(Object.entries(obj).filter(([, v]) => v >= 0).map(([k, v]) => [v, k] as [number, string]));
  return {
    name,
    record: record as unknown as TaskRecordTypes,
    obj: obj as unknown as ObjTypes,
    objTypeMax: OBJECTS_AFTER_PID.length + shift,
    recordName: (t) => names.get(t) ?? blockName(t) ?? `TYPE_${t}`,
    objTypeName: (t) => objNames.get(t) ?? `OBJ_${t}`,
  };
}

export const V21: DialectTable = table('v21', 0);
export const V23: DialectTable = table('v23', 1);
export const DIALECTS: Readonly<Record<Dialect, DialectTable>> = { v21: V21, v23: V23 };

export function isDialect(s: unknown): s is Dialect {
  return s === 'v21' || s === 'v23';
}
