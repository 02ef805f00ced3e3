// The Dockerfile is the CI environment as an image: it must install every package .ci/run would
// otherwise fetch at run time (an image run without network would fail there).
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');

test('the Dockerfile installs every package .ci/run names', () => {
  const run = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
  const wanted = new Set<string>();
  for (const m of run.matchAll(/\b[\w.+-]+:([\w.+-]+)/g)) wanted.add(m[1]); // command:package pairs
  for (const m of run.matchAll(/need\+=\(([\w.+-]+)\)/g)) wanted.add(m[1]);
  expect([...wanted]).toEqual(expect.arrayContaining(['util-linux', 'bubblewrap', 'busybox-static', 'graphviz']));
  const docker = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const install = /apt-get install([^&]*)&&/s.exec(docker);
  expect(install).not.toBeNull();
  const installed = new Set(install![1].replace(/\\\n/g, ' ').split(/\s+/).filter((w) => w && !w.startsWith('-')));
  expect([...wanted].filter((p) => !installed.has(p))).toEqual([]);
});
