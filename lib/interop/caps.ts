// Capability sets as the names container and service tooling use ("CAP_KILL"; "kill").
import { CAP_NAMES, capBit } from '../model/capabilities';
import type { CapSet } from '../model/types';
import { InteropError } from './types';

/** Every capability this table knows (CAP_CHOWN .. CAP_CHECKPOINT_RESTORE). */
export const ALL_KNOWN_CAPS: CapSet = (1n << BigInt(CAP_NAMES.length)) - 1n;

/** "CAP_KILL", lowest first. Bits past the known table are left out: see unnamedCaps. */
export function capsToNames(set: CapSet): string[] {
  const out: string[] = [];
  for (let i = 0; i < CAP_NAMES.length; i++) if ((set >> BigInt(i)) & 1n) out.push(CAP_NAMES[i]);
  return out;
}

/** The bits of a set that have no name here (cannot be written by name). */
export function unnamedCaps(set: CapSet): CapSet {
  return set & ~ALL_KNOWN_CAPS;
}

/** One name, with or without CAP_, any case; `where` names the input for the error. */
export function capFromName(name: string, where: string): number {
  if (typeof name !== 'string') throw new InteropError(`${where}: a capability name must be a string, not ${JSON.stringify(name)}`);
  const up = name.trim().toUpperCase();
  const full = up.startsWith('CAP_') ? up : `CAP_${up}`;
  const n = CAP_NAMES.indexOf(full);
  if (n < 0) throw new InteropError(`${where}: unknown capability '${name}'`);
  return n;
}

export function capsFromNames(names: readonly string[], where: string): CapSet {
  if (!Array.isArray(names)) throw new InteropError(`${where}: expected an array of capability names`);
  let set = 0n;
  names.forEach((n, i) => (set |= capBit(capFromName(n, `${where}[${i}]`))));
  return set;
}
