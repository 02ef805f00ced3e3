// Capability and securebit names, and the forms people read them in.
import { SECBIT, type CapSet, type SecbitName } from './types';

/** Index = capability number (include/uapi/linux/capability.h). */
export const CAP_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID',
  'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** Capability numbers by name, e.g. CAP.SETUID === 7. */
export const CAP: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(CAP_NAMES.map((n, i) => [n.slice(4), i])),
);

/** The last capability of the seed's kernel (2.6.34): CAP_MAC_ADMIN. */
export const SEED_CAP_LAST_CAP = 33;

/** All capabilities 0..lastCap. */
export function fullCapSet(lastCap: number): CapSet {
  return (1n << BigInt(lastCap + 1)) - 1n;
}

export function hasCap(set: CapSet, cap: number): boolean {
  return ((set >> BigInt(cap)) & 1n) === 1n;
}

export function capBit(cap: number): CapSet {
  return 1n << BigInt(cap);
}

/** The name of capability n ("CAP_SETUID"), or "cap_N" past the known table. */
export function capName(cap: number): string {
  return CAP_NAMES[cap] ?? `cap_${cap}`;
}

/** Names of the capabilities in a set, lowest first. */
export function capNames(set: CapSet): string[] {
  const out: string[] = [];
  for (let i = 0; set >> BigInt(i) !== 0n; i++) if (hasCap(set, i)) out.push(capName(i));
  return out;
}

/** The 16-hex-digit form /proc/PID/status uses (CapEff: 000001ffffffffff). */
export function capHex(set: CapSet): string {
  return BigInt.asUintN(64, set).toString(16).padStart(16, '0');
}

/** Parses the /proc form (hex, with or without 0x). */
export function parseCapHex(hex: string): CapSet {
  if (!/^(0x)?[0-9a-fA-F]{1,16}$/.test(hex)) throw new RangeError(`not a capability set: ${hex}`);
  return BigInt(hex.startsWith('0x') ? hex : `0x${hex}`);
}

/** Names of the bits set in a securebits word; unknown bits as "bit_N". */
export function securebitNames(bits: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < 32; i++) {
    if (((bits >>> i) & 1) === 0) continue;
    const name = (Object.keys(SECBIT) as SecbitName[]).find((k) => SECBIT[k] === 1 << i);
    out.push(name ? `SECBIT_${name}` : `bit_${i}`);
  }
  return out;
}
