// Writes a CRIU dump's credential-bearing images into a directory.
//
// The core images are minimal: CoreEntry.mtype and thread_core with its required futex fields
// (zero) and the creds. CRIU's `crit` and our reader read them; a real `criu restore` needs far
// more (registers, memory, files: see docs/criu-interop.md).
import { promises as fs } from 'fs';
import * as path from 'path';
import { CriuImageError } from './errors';
import { encodeImage, type KindName } from './framing';
import type { CriuDump } from './dump';
import type { CoreEntry, MessageShapes } from './schema';
import { FileWriteError, writeFileExclusive } from '../files/write-exclusive';

/**
 * Encodes a dump's files: inventory.img, pstree.img, core-TID.img, ids-PID.img, userns-ID.img.
 * Nothing touches the disk; `dir` only names the files (in errors too).
 */
export function encodeCriuDir(dump: CriuDump, dir: string): Array<[name: string, bytes: Buffer]> {
  const files: Array<[string, Buffer]> = [];
  const add = <K extends KindName>(name: string, kind: K, values: Parameters<typeof encodeImage<K>>[1]): void => {
    try {
      files.push([name, encodeImage(kind, values)]);
    } catch (e) {
      throw new CriuImageError('unencodable', path.join(dir, name), 0, (e as Error).message);
    }
  };

  add('pstree.img', 'pstree', dump.pstree);
  const idsWritten = new Set<number>();
  for (const t of dump.tasks) {
    const core: CoreEntry = {
      mtype: t.mtype,
      thread_core: { futex_rla: 0n, futex_rla_len: 0, creds: t.creds },
    };
    add(`core-${t.tid}.img`, 'core', [core]);
    if (t.ids && !idsWritten.has(t.pid)) {
      idsWritten.add(t.pid);
      add(`ids-${t.pid}.img`, 'ids', [t.ids as MessageShapes['TaskKobjIdsEntry']]);
    }
  }
  for (const ns of dump.userns) add(`userns-${ns.id}.img`, 'userns', [ns.entry]);
  // Last: a reader that finds inventory.img finds every other file of the dump in place.
  add('inventory.img', 'inventory', [dump.inventory]);
  return files;
}

/**
 * Writes the dump into `dir` (created 0700 if absent) and returns the paths written. Every file
 * is written exclusively and atomically (lib/files/write-exclusive.ts), inventory.img last, so
 * no reader ever sees half a file, and a dump with an inventory is complete. A failure (a full
 * disk) removes what this call wrote, and the directory if it made it: no partial dump is left
 * to block a rerun.
 */
export async function writeCriuDir(dump: CriuDump, dir: string): Promise<string[]> {
  const files = encodeCriuDir(dump, dir);
  let made: string | undefined;
  try {
    made = await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CriuImageError('io', dir, 0, `cannot create the directory: ${(e as Error).message}`);
  }
  const written: string[] = [];
  for (const [name, bytes] of files) {
    const file = path.join(dir, name);
    try {
      // Names inside the dump directory are ours: a link planted there is replaced, never followed.
      if ((await fs.lstat(file).catch(() => undefined))?.isSymbolicLink()) await fs.unlink(file);
      writeFileExclusive(file, bytes);
    } catch (e) {
      for (const w of written) await fs.rm(w, { force: true });
      if (made !== undefined) await fs.rm(made, { recursive: true, force: true });
      throw new CriuImageError('io', file, 0, e instanceof FileWriteError ? e.message : `cannot write: ${(e as Error).message}`);
    }
    written.push(file);
  }
  return written;
}
