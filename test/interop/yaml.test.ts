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
