// The YAML writer (k8s export) read back by a real YAML parser: the same value, for any plain
// value of the shapes the exports produce and for strings YAML would read as something else.
import fc from 'fast-check';
import { toYaml } from '../../lib/interop';

// js-yaml 3 ships no types; only load() is used.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const yaml: { load(text: string): unknown } = require('js-yaml');

const key = fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom('yes', 'no', 'on', 'null', '~', 'true', '0x10', '- a', 'a: b', '#c', "'q'"));
const scalar = fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 10 }), key);
const plain = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 4 })),
})).value;

test('toYaml(v) reads back as v', () => {
  fc.assert(
    fc.property(fc.dictionary(key, plain, { minKeys: 1, maxKeys: 5 }), (v) => {
      expect(yaml.load(toYaml(v))).toEqual(v);
    }),
    { numRuns: 500 },
  );
});

import { fromYaml, YamlError } from '../../lib/interop';

test('fromYaml reads back what toYaml writes', () => {
  fc.assert(
    fc.property(fc.dictionary(key, plain, { minKeys: 1, maxKeys: 5 }), (v) => {
      expect(fromYaml(toYaml(v))).toEqual(v);
    }),
    { numRuns: 500 },
  );
});

test('fromYaml reads a manifest as a YAML parser does', () => {
  const manifest = [
    '# a pod',
    '---',
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    '  name: "web"   # quoted',
    '  labels: {}',
    'spec:',
    '  securityContext:',
    '    runAsUser: 1000',
    '    supplementalGroups: [4, 27]',
    '  containers:',
    '  - name: app',
    "    image: 'nginx:1.27'",
    '    securityContext:',
    '      allowPrivilegeEscalation: false',
    '      capabilities:',
    '        drop:',
    '          - ALL',
    '        add: ["NET_BIND_SERVICE"]',
    '    args:',
    '    - -c',
    '    - "echo #not a comment"',
    '  - name: side',
    '---',
    'kind: Ignored',
  ].join('\n');
  expect(fromYaml(manifest)).toEqual(yaml.load(manifest.split('\n---\nkind: Ignored')[0]));
});

test.each([
  ['a: &x 1', /YAML line 1: '&'/],
  ['a: |\n  text', /YAML line 1: '\|'/],
  ['a: 1\n   b: 2', /YAML line 2: unexpected indentation/],
  ['just text\nmore: 1', /YAML line 1: expected 'key: value'/],
])('fromYaml refuses what it does not read, naming the line: %j', (text, message) => {
  expect(() => fromYaml(text)).toThrow(YamlError);
  expect(() => fromYaml(text)).toThrow(message);
});
