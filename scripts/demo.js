#!/usr/bin/env node
// `npm start`: a live demonstration of cr-creds on this kernel (run as root).
//  1. start a sample process with distinctive creds: an unprivileged uid inside a user namespace,
//     several groups, an ambient capability, a securebit;
//  2. checkpoint it from the live kernel, and show the image;
//  3. stop it;
//  4. restart the same program from the image;
//  5. checkpoint the restarted process and show, field by field, that its creds are the same.
'use strict';
const {
  ImageBuilder, CAP, capBit, SECBIT, encode, renderReport, credentialFields, restart, checkpoint, probe,
} = require('../dist');

const say = (s) => process.stdout.write(s + '\n');
const title = (s) => say(`\n== ${s} ==`);

function sampleImage() {
  const b = new ImageBuilder();
  // A user namespace owned by the caller's uid 0, mapping 0..65535 inside to 100000.. outside.
  const ns = b.namespace(b.user(0), {
    uidMap: [{ inside: 0, outside: 100000, count: 65536 }],
    gidMap: [{ inside: 0, outside: 100000, count: 65536 }],
    setgroups: 'allow',
  });
  const nbs = capBit(CAP.NET_BIND_SERVICE);
  const all = (1n << BigInt(probe().capLastCap + 1)) - 1n;
  const cred = b.cred({
    uid: 1000, gid: 1000, groups: [27, 100, 1000], user: b.user(1000, ns),
    caps: { inheritable: nbs, permitted: nbs, effective: nbs, ambient: nbs, bounding: all },
    securebits: SECBIT.NOROOT,
  });
  b.task(cred);
  return b.build();
}

async function main() {
  if (process.getuid() !== 0) {
    process.stderr.write('cr-creds demo: run as root (it creates user namespaces with ranged maps)\n');
    return 1;
  }
  title('1. a sample process with distinctive creds');
  const sample = restart(sampleImage(), '/bin/sleep', ['600'], { stdio: 'ignore', cwd: '/' });
  say(`started pid ${sample.pid}: sleep 600, uid 1000 in a user namespace, groups 27,100,1000, CAP_NET_BIND_SERVICE ambient, SECBIT_NOROOT`);

  title('2. checkpoint it from the live kernel');
  const image = await checkpoint(sample); // the handle itself: pid-reuse safe
  const bytes = encode(image);
  say(`image: ${bytes.length} bytes\n`);
  process.stdout.write(renderReport(image));

  title('3. stop it');
  sample.kill('SIGTERM');
  const exit1 = await sample;
  say(`pid ${sample.pid} ended by ${exit1.signal ?? `exit ${exit1.exitCode}`}`);

  title('4. restart the same program from the image');
  const plan = restart(bytes, '/bin/sleep', ['600'], { dryRun: true });
  say(`plan: ${plan.ops.length} operations, ${plan.steps.length} checked steps, all allowed`);
  const again = restart(bytes, '/bin/sleep', ['600'], { stdio: 'ignore', cwd: '/' });
  say(`restarted as pid ${again.pid}`);

  title('5. the restarted process, field by field');
  const after = await checkpoint(again);
  const a = credentialFields(image.tasks[0]);
  const b = credentialFields(after.tasks[0]);
  let same = 0;
  const width = Math.max(...Object.keys(a).map((k) => k.length));
  for (const k of Object.keys(a)) {
    const ok = a[k] === b[k];
    if (ok) same++;
    say(`${ok ? 'same' : 'DIFF'}  ${k.padEnd(width)}  ${a[k]}${ok ? '' : `  ->  ${b[k]}`}`);
  }
  again.kill('SIGTERM');
  await again;
  say(`\n${same} of ${Object.keys(a).length} credential fields identical after checkpoint -> restart.`);
  return same === Object.keys(a).length ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`cr-creds demo: ${e.stack || e}\n`);
  process.exitCode = 1;
});
