// Shared by the agreement tests: whether the kernel side can run here, and one harness.
import { CAP, capBit } from '../../lib/model/capabilities';
import { native } from '../../lib/native/binding';
import { AgreementHarness } from '../../lib/agreement';

const me = native().readThreadCreds();
/** The kernel side forks a root child that sets any starting creds: root with CAP_SETPCAP. */
export const canRunKernel = process.getuid?.() === 0 && (me.caps.effective & capBit(CAP.SETPCAP)) !== 0n;
if (!canRunKernel && process.env.CI) throw new Error('CI runs as root: the agreement tests must not skip');
/** Kernel tests; skipped (not as root with CAP_SETPCAP) because the child must set any creds. */
export const kernelTest = canRunKernel ? test : test.skip;

let harness: AgreementHarness | undefined;
export function getHarness(): AgreementHarness {
  return (harness ??= new AgreementHarness());
}

export const json = (x: unknown): string => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));
