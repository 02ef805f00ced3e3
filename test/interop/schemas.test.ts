// The shapes export writes, checked against the published schemas: the OCI runtime spec's JSON
// schema (as Debian ships it with the runtime-spec sources) and Kubernetes' core/v1 schemas (as
// the kubernetes-models package publishes them, with its types).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import { Pod } from 'kubernetes-models/v1/Pod';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import { ImageBuilder, type Image } from '../../lib/format';
import { mergeOci, toK8s, toOci, type K8sPodSecurityContext, type K8sPodSpecIdentity, type K8sSecurityContext } from '../../lib/interop';
import { OCI_SCHEMA_DIR, ociValidator, run } from './helpers';

if (process.env.CI && !fs.existsSync(OCI_SCHEMA_DIR)) throw new Error('CI must install golang-github-opencontainers-specs-dev (the OCI schema)');
const ociTest = fs.existsSync(OCI_SCHEMA_DIR) ? test : test.skip;

// Compile-time: every field cr-creds writes is a field of the published types, with its type.
type Check<A, B> = [A] extends [B] ? true : false;
const k8sTypesMatch: [Check<K8sSecurityContext, ISecurityContext>, Check<K8sPodSecurityContext, IPodSecurityContext>, Check<keyof K8sSecurityContext, keyof ISecurityContext>, Check<keyof K8sPodSecurityContext, keyof IPodSecurityContext>, Check<Exclude<keyof K8sPodSpecIdentity, 'containers'>, keyof IPodSpec>] = [true, true, true, true, true];
void k8sTypesMatch;

/** Identities of one task: ids, groups, caps, nnp, maybe a user namespace one level down. */
const arbIdentity = fc
  .record({
    uid: fc.integer({ min: 0, max: 65535 }),
    gid: fc.integer({ min: 0, max: 65535 }),
    groups: fc.uniqueArray(fc.integer({ min: 0, max: 65535 }), { maxLength: 5 }),
    caps: fc.array(fc.bigInt({ min: 0n, max: (1n << 41n) - 1n }), { minLength: 5, maxLength: 5 }),
    nnp: fc.boolean(),
    userns: fc.option(fc.record({ outside: fc.integer({ min: 0, max: 1 << 20 }), count: fc.integer({ min: 1, max: 65536 }) }), { nil: undefined }),
  })
  .map((g): Image => {
    const b = new ImageBuilder();
    const ns = g.userns ? b.namespace(b.user(0), { uidMap: [{ inside: 0, ...g.userns }], gidMap: [{ inside: 0, ...g.userns }] }) : b.rootNs;
    const [inheritable, permitted, effective, bounding, ambient] = g.caps;
    b.task(b.cred({ uid: g.uid, gid: g.gid, groups: g.groups, user: b.user(g.uid, ns), caps: { inheritable, permitted, effective, bounding, ambient } }), { noNewPrivs: g.nnp });
    return b.build();
  });

describe('OCI: the runtime-spec schema', () => {
  ociTest('every export merged into `runc spec` config.json is valid, with unknown fields refused', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-oci-schema-'));
    try {
      await run('runc', ['spec', '--bundle', dir]);
      const base = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      const closed = ociValidator(true);
      expect(closed(base)).toEqual([]);
      fc.assert(
        fc.property(arbIdentity, (image) => {
          expect(closed(mergeOci(base, toOci(image).value))).toEqual([]);
        }),
        { numRuns: 200 },
      );
      // The validator is not blind: a misspelt field and a wrong type are caught.
      const bad = mergeOci(base, toOci(oneTask()).value) as { process: Record<string, unknown> };
      expect(closed({ ...bad, process: { ...bad.process, noNewPrivilege: true } }).length).toBeGreaterThan(0);
      expect(closed({ ...bad, process: { ...bad.process, user: { uid: -1, gid: 0 } } }).length).toBeGreaterThan(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function oneTask(): Image {
  const b = new ImageBuilder();
  b.task(b.cred({ uid: 1000, gid: 1000 }));
  return b.build();
}

describe('Kubernetes: core/v1 schemas', () => {
  test('every export is a valid PodSpec fragment inside a Pod', () => {
    fc.assert(
      fc.property(arbIdentity, (image) => {
        const spec = toK8s(image).value;
        const pod = new Pod({ metadata: { name: 'x' }, spec: { ...spec, containers: spec.containers.map((c) => ({ ...c, image: 'busybox' })) } });
        expect(() => pod.validate()).not.toThrow();
      }),
      { numRuns: 200 },
    );
    // And the schema is not blind.
    const bad = new Pod({ metadata: { name: 'x' }, spec: { containers: [{ name: 'c', securityContext: { runAsUser: 'root' as never } }] } });
    expect(() => bad.validate()).toThrow(/runAsUser/);
  });
});
