// The public surface: the package's runtime exports are exactly the values docs/api.md lists,
// every type it lists is exported, and the test hooks are not in the public types.
import * as fs from 'fs';
import * as path from 'path';
import * as api from '../../lib';
import type { CheckpointOptions, RestartOptions } from '../../lib';

const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');

/** Names in the first column of docs/api.md's tables: `name(args)` or `a`, `b`. */
function documentedValues(): string[] {
  const out: string[] = [];
  for (const line of doc.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const first = line.split(' | ')[0];
    for (const m of first.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)/g)) out.push(m[1]);
  }
  return [...new Set(out)].sort();
}

function documentedTypes(): string[] {
  const text = doc.split('\n\n').filter((p) => p.startsWith('Types:')).join(' ');
  return [...text.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]);
}

test('the runtime exports are exactly the documented values', () => {
  expect(Object.keys(api).sort()).toEqual(documentedValues());
});

test('no raw addon, no escaping helpers, no test entry points', () => {
  for (const name of ['native', 'dotEscape', 'xmlEscape', 'restartForTests', 'checkpointForTests', 'restartWith', 'checkpointWith', 'treeDepths'])
    expect(Object.keys(api)).not.toContain(name);
});

test('every documented type is exported (a file naming each compiles)', () => {
  const types = documentedTypes();
  expect(types.length).toBeGreaterThan(30);
  const src = fs.readFileSync(path.join(__dirname, '..', '..', 'lib', 'index.ts'), 'utf8');
  for (const t of types) expect(src).toMatch(new RegExp(`type ${t}\\b`));
});

test('the test hooks are not in the public option types', () => {
  // Compile-time checks (ts-jest type-checks this file).
  // @ts-expect-error: test-only
  const a: RestartOptions = { linuxCrStandIn: true };
  // @ts-expect-error: test-only
  const b: RestartOptions = { idmapHelpers: {} };
  // @ts-expect-error: test-only
  const c: CheckpointOptions = { testDelayMs: 1 };
  expect([a, b, c]).toHaveLength(3);
});
