// Kernel profiles: which kernel's rules the emulator plays. `seed` is the 2.6.34 kernel the
// linux-cr series targeted, bugs included (each one named, so a test can point at it); `modern`
// is today's kernel. docs/emulator.md lists every difference.
import { SEED_CAP_LAST_CAP } from '../model/capabilities';

export type ProfileName = 'seed' | 'modern';

/** The seed's bugs, reproduced only under `seed`. Names are the ones steps and docs use. */
export interface SeedBugs {
  /** restore_capabilities' bounding loop runs `i < CAP_LAST_CAP`: the last cap is never dropped. */
  bsetLoopSkipsLastCap: boolean;
  /**
   * restore_cred ignores cred_setfsuid/cred_setfsgid's refusal when the restarter's fs id
   * already equals the image's, but setresuid/setresgid already set fs id = effective id.
   */
  fsidQuirk: boolean;
  /** restore_cred fails foreign supplementary groups with EINVAL (ret's initial value). */
  foreignGroupsEinval: boolean;
  /**
   * cred_setresuid calls set_user() when the real uid changes, which swaps the USER restored
   * from the image for the user of that uid in the restarter's own namespace.
   */
  setUserDropsImageUser: boolean;
  /** apply_securebits demands CAP_SETPCAP even when the bits do not change. */
  securebitsAlwaysNeedSetpcap: boolean;
}

export interface KernelProfile {
  readonly name: ProfileName;
  /** CAP_LAST_CAP of this kernel. */
  readonly lastCap: number;
  /** All settable securebits (SECURE_ALL_BITS) and their locks (SECURE_ALL_LOCKS). */
  readonly securebitsMask: number;
  readonly securebitsLocks: number;
  readonly ambient: boolean;
  readonly noNewPrivs: boolean;
  /** uid_map / gid_map / setgroups, ns-aware capabilities (ns_capable), EINVAL for unmapped ids. */
  readonly idMaps: boolean;
  /** Deepest user-namespace level (create_user_ns: parent level > 32 => ENOSPC); Infinity: none. */
  readonly maxNsLevel: number;
  readonly bugs: Readonly<SeedBugs>;
}

const NO_BUGS: SeedBugs = {
  bsetLoopSkipsLastCap: false,
  fsidQuirk: false,
  foreignGroupsEinval: false,
  setUserDropsImageUser: false,
  securebitsAlwaysNeedSetpcap: false,
};

/** The host's cap_last_cap on the machine this project targets (kernel 6.x). */
export const MODERN_DEFAULT_LAST_CAP = 40;

export function kernelProfile(
  name: ProfileName,
  opts: { lastCap?: number; bugs?: Partial<SeedBugs> } = {},
): KernelProfile {
  if (name === 'seed') {
    return Object.freeze({
      name,
      lastCap: opts.lastCap ?? SEED_CAP_LAST_CAP,
      securebitsMask: 0x15,
      securebitsLocks: 0x2a,
      ambient: false,
      noNewPrivs: false,
      idMaps: false,
      maxNsLevel: Infinity,
      bugs: Object.freeze({
        bsetLoopSkipsLastCap: true,
        fsidQuirk: true,
        foreignGroupsEinval: true,
        setUserDropsImageUser: true,
        securebitsAlwaysNeedSetpcap: true,
        ...opts.bugs,
      }),
    });
  }
  if (name !== 'modern') throw new RangeError(`unknown kernel profile: ${String(name)}`);
  const lastCap = opts.lastCap ?? MODERN_DEFAULT_LAST_CAP;
  if (!Number.isInteger(lastCap) || lastCap < 0 || lastCap > 63) throw new RangeError(`bad lastCap: ${lastCap}`);
  return Object.freeze({
    name,
    lastCap,
    securebitsMask: 0x555,
    securebitsLocks: 0xaaa,
    ambient: true,
    noNewPrivs: true,
    idMaps: true,
    maxNsLevel: 33,
    bugs: Object.freeze({ ...NO_BUGS, ...opts.bugs }),
  });
}

export function resolveProfile(p: KernelProfile | ProfileName): KernelProfile {
  return typeof p === 'string' ? kernelProfile(p) : p;
}
