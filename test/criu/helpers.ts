// Shared by the CRIU tests: the real CRIU 4.2 dumps, scratch directories, raw protobuf access.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Reader } from 'protobufjs';
import { criu } from '../../lib';

export const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'criu-4.2');
/** The four dumps: one process each, named by what their creds show. */
export const DUMPS = ['ambient', 'groups-caps-secbits', 'nnp', 'plain-root'] as const;

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

/** `crit decode` of the dump's core image, as the fixture stores it. */
export function critCreds(name: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(fixture(name), 'creds.crit.json'), 'utf8')).creds;
}

/** The dump's single process id (from its core-PID.img name). */
export function dumpPid(name: string): number {
  const core = fs.readdirSync(fixture(name)).find((f) => /^core-\d+\.img$/.test(f))!;
  return Number(core.slice(5, -4));
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-criu-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
let n = 0;

/** A fresh empty directory path (not created). */
export function tmpPath(label = 'd'): string {
  return path.join(scratch, `${label}-${n++}`);
}

/** A writable copy of a fixture dump (without creds.crit.json). */
export function copyDump(name: string): string {
  const to = tmpPath(name);
  fs.cpSync(fixture(name), to, { recursive: true });
  fs.rmSync(path.join(to, 'creds.crit.json'));
  return to;
}

/**
 * A scratch copy of dump `name` whose task says it lives in CRIU user namespace `nsId` (its
 * ids image rewritten); the userns image is the caller's to write, or to leave out.
 */
export async function copyDumpInUserns(name: string, nsId: number): Promise<string> {
  const dir = copyDump(name);
  const ids = path.join(dir, `ids-${dumpPid(name)}.img`);
  const [entry] = await criu.readCriuFile(ids, 'ids');
  fs.writeFileSync(ids, criu.encodeImage('ids', [{ ...entry, user_ns_id: nsId }]));
  return dir;
}

/** The payload of the first length-delimited field `field` of a protobuf message. */
export function fieldBytes(msg: Uint8Array, field: number): Uint8Array {
  const r = Reader.create(msg);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === field && (tag & 7) === 2) return r.bytes();
    r.skipType(tag & 7);
  }
  throw new Error(`no field ${field}`);
}

/** The raw creds_entry bytes inside a core image file (CoreEntry.thread_core.creds). */
export function rawCreds(coreFile: string): Uint8Array {
  const buf = fs.readFileSync(coreFile);
  const size = buf.readUInt32LE(8);
  const core = buf.subarray(12, 12 + size);
  return fieldBytes(fieldBytes(core, 5), 10);
}
