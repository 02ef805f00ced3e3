// The real-kernel prefix of an image (HEADER_ARCH, CONTAINER, LSM name, LSM_INFO), described
// for people (text) and for machines (JSON), from the bytes the image kept verbatim.
import { Arch } from '../format/constants';
import { defaultPrefix, lsmNameOf, readX86HeaderArch } from '../format/header';
import type { Image } from '../format/types';

export interface PrefixJson {
  /** HEADER_ARCH's body as hex; null: no HEADER_ARCH. */
  headerArch: string | null;
  /** The x86 fields of that body; null when absent or not the x86 layout. */
  x86: { hasFxsr: number; hasXsave: number; xstateSize: number } | null;
  /** null: no CONTAINER. */
  container: {
    /** CONTAINER's body as hex ('' in the series). */
    body: string;
    /** The LSM-name BUFFER's body as hex (NUL padding included); null: none. */
    lsmName: string | null;
    /** The name it holds; null: none. */
    lsm: string | null;
    /** LSM_INFO's body as hex; null: no LSM_INFO. */
    lsmInfo: string | null;
  } | null;
}

/** A prefix body (a byte string, see ImagePrefix) as hex. */
const hex = (b: string) => Buffer.from(b, 'latin1').toString('hex');

function x86Of(image: Image, body: string | undefined): PrefixJson['x86'] {
  const a = image.header.arch;
  if (body === undefined || (a !== Arch.X86_64 && a !== Arch.X86_32)) return null;
  return readX86HeaderArch(body, image.header.byteOrder !== 'big');
}

/** The prefix the image holds; for an image not read from bytes, the one encode would write. */
export function prefixJson(image: Image): PrefixJson {
  const p = image.prefix ?? defaultPrefix(image.header);
  const c = p.container;
  return {
    headerArch: p.headerArch === undefined ? null : hex(p.headerArch),
    x86: x86Of(image, p.headerArch),
    container:
      c === undefined
        ? null
        : {
            body: hex(c.body),
            lsmName: c.lsmName === undefined ? null : hex(c.lsmName),
            lsm: c.lsmName === undefined ? null : lsmNameOf(c.lsmName),
            lsmInfo: c.lsmInfo === undefined ? null : hex(c.lsmInfo),
          },
  };
}

/** One line: what stands between the uts strings and TREE. */
export function describePrefix(image: Image): string {
  const j = prefixJson(image);
  const parts: string[] = [];
  if (j.headerArch !== null)
    parts.push(j.x86 ? `HEADER_ARCH (fxsr ${j.x86.hasFxsr}, xsave ${j.x86.hasXsave}, xstate_size ${j.x86.xstateSize})` : `HEADER_ARCH (${j.headerArch.length / 2} bytes)`);
  if (j.container !== null) {
    parts.push('CONTAINER');
    if (j.container.lsm !== null) parts.push(`LSM name '${j.container.lsm}'`);
    if (j.container.lsmInfo !== null) parts.push(`LSM_INFO (${j.container.lsmInfo.length / 2} bytes)`);
  }
  return parts.length === 0 ? 'none (TREE follows the uts strings)' : parts.join(', ');
}
