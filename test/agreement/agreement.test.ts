// Kernel agreement on every build: a few hundred random cases, each run through the emulator and
// the real kernel, must agree op by op (errno) and on the final creds, execve included. A
// failing case is shrunk by fast-check to its smallest form before it is reported.
import fc from 'fast-check';
import { agreementCase, coverage } from '../../lib/agreement';
import { getHarness, json, kernelTest } from './helpers';

const CASES = Number(process.env.AGREEMENT_CASES ?? 400);

describe('kernel agreement', () => {
  kernelTest(`${CASES} random cases agree with the kernel`, () => {
    const h = getHarness();
    const cov = coverage();
    let agree = 0;
    fc.assert(
      fc.property(agreementCase({ lastCap: h.lastCap }), (c) => {
        const r = h.run(c);
        cov.add(c, r);
        if (!r.agree) throw new Error(`disagreement: ${json(r.disagreements)}`);
        agree++;
      }),
      { numRuns: CASES, seed: Number(process.env.AGREEMENT_SEED ?? Date.now() % 2 ** 31) },
    );
    // Shrinking re-runs cases: count only what the first pass saw (at least CASES).
    expect(agree).toBeGreaterThanOrEqual(CASES);
    expect(cov.uncovered()).toEqual([]);
  }, 60_000);

  kernelTest('the kernel side reports refusals and goes on', () => {
    const r = getHarness().run({
      start: [{ op: 'setresuid', ruid: 1000, euid: 1000, suid: 1000 }],
      ops: [
        { op: 'setresuid', ruid: 0, euid: 0, suid: 0 },
        { op: 'setgroups', gids: [1] },
        { op: 'set_no_new_privs' },
        { op: 'execve', path: 'reporter', file: { setuid: { uid: 0 } } },
      ],
    });
    expect(r.kernel.outcomes).toEqual([null, 'EPERM', 'EPERM', null]);
    expect(r.kernel.creds).toMatchObject({ uid: 1000, euid: 1000, noNewPrivs: true });
    // no_new_privs: the set-user-ID bit is ignored.
    expect(r.kernel.exec?.creds).toMatchObject({ uid: 1000, euid: 1000, suid: 1000 });
    expect(r.disagreements).toEqual([]);
  });

  kernelTest('a disagreement is reported field by field', () => {
    const h = getHarness();
    // The same case with the emulator's answer tampered: the comparison must notice.
    const r = h.run({ start: [], ops: [{ op: 'setresuid', ruid: 1000, euid: 1000, suid: 1000 }] });
    expect(r.agree).toBe(true);
    const { diffCreds } = jest.requireActual('../../lib/agreement') as typeof import('../../lib/agreement');
    const d = diffCreds(r.kernel.creds, { ...r.emulator.creds, fsuid: 0, caps: { ...r.emulator.creds.caps, ambient: 1n } });
    expect(d.map((x) => x.what)).toEqual(['fsuid', 'caps.ambient']);
  });
});
