// Interop with CRIU's image files: read a dump's credentials, convert both ways, write a dump.
// docs/criu-interop.md: what each format holds that the other cannot, the mapping, the framing.
import type { Image } from '../format/types';
import { criuToImage, imageToCriuDump, type CriuToImageOptions, type CriuToImageResult } from './convert';
import type { LossyItem } from './dump';
import { readCriuDir } from './reader';
import { writeCriuDir } from './writer';

export { readCriuDir } from './reader';
export { writeCriuDir, encodeCriuDir } from './writer';
export {
  criuToImage,
  imageToCriuDump,
  credToCriu,
  capWordsToSet,
  capSetToWords,
  composeMaps,
  TASK_USER_NS_ID,
  type CriuToImageOptions,
  type CriuToImageResult,
  type ImageToCriuResult,
} from './convert';
export { CriuImageError, CRIU_RULES, type CriuRule, type CriuErrorCode } from './errors';
export {
  MAGIC,
  KINDS,
  MAX_ENTRY_BYTES,
  MAX_FILE_BYTES,
  parseImage,
  decodeEntries,
  readCriuFile,
  readCriuFileBytes,
  frameImage,
  encodeImage,
  type KindName,
  type ImageKind,
  type ParsedImage,
  type RawEntry,
} from './framing';
export type { CriuDump, CriuTask, CriuUserns, LossyItem } from './dump';
export type {
  CredsEntry,
  CoreEntry,
  ThreadCoreEntry,
  InventoryEntry,
  PstreeEntry,
  TaskKobjIdsEntry,
  UsernsEntry,
  UidGidExtent,
  MessageName,
  MessageShapes,
} from './schema';
export { decodeMessage, encodeMessage, messageType, MARCH, LSMTYPE } from './schema';

/** Reads a CRIU dump directory into an image; says what could not be carried and what was assumed. */
export async function criuDirToImage(dir: string, options: CriuToImageOptions = {}): Promise<CriuToImageResult> {
  return criuToImage(await readCriuDir(dir), options);
}

/** Writes an image's credentials as a CRIU dump directory; returns the files and the losses. */
export async function imageToCriu(image: Image, dir: string): Promise<{ files: string[]; lossy: LossyItem[] }> {
  const { dump, lossy } = imageToCriuDump(image);
  const files = await writeCriuDir(dump, dir);
  return { files, lossy };
}
