#!/usr/bin/env node
// The guest side of the QEMU harness (scripts/qemu/run.sh): plain Node, no jest, real assertions
// against the kernel it runs on. Also runs as is on any machine (as root):
//
//   node scripts/qemu/guest-tests.js [--tests=probe,creds,userns,checkpoint,restart,linuxcr]
//                                    [--host-release=R] [--sys-restart-nr=N]
//
// In the guest, /init passes the options from the kernel command line (crcreds.tests=...,
// crcreds.host=..., crcreds.sysrestartnr=...). Prints one line per check,
//   PASS name: detail | FAIL name: detail | SKIP name: why
// then one line `CRCREDS-RESULT {json}` (guest and host kernel, the probe, the counts) that
// run.sh picks out of the serial log. Exit code: 0 when nothing failed.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const util = require('util');

const ROOT = path.resolve(__dirname, '..', '..');
const lib = require(path.join(ROOT, 'dist'));
// The raw addon and the test hooks are not part of the package's API: taken from their modules.
const { native } = require(path.join(ROOT, 'dist', 'native', 'binding'));
const { restartForTests } = require(path.join(ROOT, 'dist', 'restart', 'testing'));
const { ImageBuilder, encode, decode, validate, checkpoint, restart, CAP, capBit, capHex, SECBIT, RestartDenied } = lib;

const SUITES = ['probe', 'creds', 'userns', 'checkpoint', 'restart', 'linuxcr'];

// The checks read securebits over ptrace (the injection is what differs across kernels and
// architectures); one check compares the BPF reader with it, where the guest's kernel has one.
process.env.CR_CREDS_SECUREBITS_READER = 'ptrace';

// --- options: argv, else the kernel command line (crcreds.KEY=VALUE) ---
function options() {
  const o = {};
  let cmdline = '';
  try {
    cmdline = fs.readFileSync('/proc/cmdline', 'utf8');
  } catch {}
  for (const m of cmdline.matchAll(/(?:^|\s)crcreds\.(\w+)=(\S*)/g)) o[m[1]] = m[2];
  for (const a of process.argv.slice(2)) {
    const m = /^--([\w-]+)=(.*)$/.exec(a);
    if (!m) throw new Error(`guest-tests: unknown argument ${a}`);
    o[m[1].replace(/-/g, '')] = m[2];
  }
  hostRelease = o.host || o.hostrelease || null;
  const tests = (o.tests || 'all').split(',').filter(Boolean);
  const want = tests.includes('all') ? SUITES : tests;
  for (const t of want) if (!SUITES.includes(t)) throw new Error(`guest-tests: unknown suite ${t} (${SUITES.join(', ')})`);
  return {
    suites: want,
    sysRestartNr: o.sysrestartnr ? Number(o.sysrestartnr) : undefined,
  };
}

// --- the check runner ---
const results = { pass: 0, fail: 0, skip: 0, failed: [] };
const say = (s) => process.stdout.write(s + '\n');
const show = (v) => util.inspect(v, { depth: 6, breakLength: Infinity, maxArrayLength: 20 });

class Skip extends Error {}
const skip = (why) => {
  throw new Skip(why);
};

function eq(actual, expected, what) {
  if (!util.isDeepStrictEqual(actual, expected)) throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}
function ok(cond, what) {
  if (!cond) throw new Error(what);
}

const CHECK_TIMEOUT_MS = 120000; // generous: software emulation is slow
async function check(name, fn) {
  const t0 = Date.now();
  let timer;
  try {
    const detail = await Promise.race([
      Promise.resolve().then(fn),
      new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS))),
    ]);
    results.pass++;
    say(`PASS ${name}: ${detail || 'ok'} (${Date.now() - t0} ms)`);
  } catch (e) {
    if (e instanceof Skip) {
      results.skip++;
      say(`SKIP ${name}: ${e.message}`);
    } else {
      results.fail++;
      results.failed.push(name);
      say(`FAIL ${name}: ${(e && e.stack) || e}`.replace(/\n/g, '\n     '));
    }
  } finally {
    clearTimeout(timer);
  }
}

// --- helpers ---
const kallsyms = () => fs.readFileSync('/proc/kallsyms', 'utf8');
const symRe = (name) => new RegExp(`\\s(__\\w+_)?${name}(\\s|$)`, 'm');

/** The fields of /proc/PID/status as strings. */
function status(pid) {
  const out = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
const nums = (s) => (s ? s.split(/\s+/).map(Number) : []);
const hex = (s) => BigInt('0x' + s);

const full = () => (1n << BigInt(native().probe().capLastCap + 1)) - 1n;
const me = () => native().readThreadCreds();

/** Field-by-field comparison; returns how many fields were compared. */
function sameFields(a, b, what) {
  const bad = lib.differentFields(a, b);
  if (bad.length) throw new Error(`${what}: ${bad.length} field(s) differ: ${bad.join('; ')}`);
  return Object.keys(a).length;
}

const started = new Set();
/** restart() of a long-running program; killed at the end. */
function startImage(image, opts = {}) {
  const h = restart(image, '/bin/sleep', ['600'], { stdio: 'ignore', cwd: '/', env: { PATH: '/bin:/usr/bin' }, ...opts });
  started.add(h);
  return h;
}
async function stop(h) {
  h.kill('SIGKILL');
  const r = await h;
  started.delete(h);
  return r;
}

/** A static aarch64 ELF of two instructions: `smstart sm`, then a loop on itself. */
function streamingElf() {
  const base = 0x400000n;
  const code = [0xd503437f, 0x14000000]; // smstart sm; b .
  const buf = Buffer.alloc(120 + 4 * code.length);
  buf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // ELF, 64-bit, little-endian, version 1
  buf.writeUInt16LE(2, 16); // ET_EXEC
  buf.writeUInt16LE(183, 18); // EM_AARCH64
  buf.writeUInt32LE(1, 20);
  buf.writeBigUInt64LE(base + 120n, 24); // entry
  buf.writeBigUInt64LE(64n, 32); // program headers
  buf.writeUInt16LE(64, 52);
  buf.writeUInt16LE(56, 54);
  buf.writeUInt16LE(1, 56);
  buf.writeUInt32LE(1, 64); // PT_LOAD
  buf.writeUInt32LE(5, 68); // R+X
  buf.writeBigUInt64LE(base, 80);
  buf.writeBigUInt64LE(base, 88);
  buf.writeBigUInt64LE(BigInt(buf.length), 96);
  buf.writeBigUInt64LE(BigInt(buf.length), 104);
  buf.writeBigUInt64LE(0x1000n, 112);
  code.forEach((insn, i) => buf.writeUInt32LE(insn, 120 + 4 * i));
  return buf;
}

/** A nested chain: level 1 maps 0..65535 to 100000.., each deeper level 0..n to 1.. of its parent. */
function nestedImage(depth, credInit) {
  const b = new ImageBuilder();
  let ns = null;
  const levels = [];
  for (let i = 0; i < depth; i++) {
    const owner = ns ? b.user(0, ns) : b.user(0);
    const m = i === 0 ? [{ inside: 0, outside: 100000, count: 65536 }] : [{ inside: 0, outside: 1, count: 65536 - i }];
    ns = b.namespace(owner, { uidMap: m, gidMap: m, setgroups: 'allow' });
    levels.push(m);
  }
  b.task(b.cred({ ...credInit(b), user: b.user(credInit(b).uid, ns) }));
  return { image: b.build(), levels };
}

/** The sample of the demo: uid 1000 in a user namespace, groups, an ambient cap, SECBIT_NOROOT. */
function distinctImage() {
  const b = new ImageBuilder();
  const ns = b.namespace(b.user(0), {
    uidMap: [{ inside: 0, outside: 100000, count: 65536 }],
    gidMap: [{ inside: 0, outside: 100000, count: 65536 }],
    setgroups: 'allow',
  });
  const nbs = capBit(CAP.NET_BIND_SERVICE);
  b.task(
    b.cred({
      uid: 1000, gid: 1000, groups: [27, 100, 1000], user: b.user(1000, ns),
      caps: { inheritable: nbs, permitted: nbs, effective: nbs, ambient: nbs, bounding: full() },
      securebits: SECBIT.NOROOT,
    }),
  );
  return b.build();
}

/** No namespace: split uids and gids, supplementary groups, a reduced bounding set, no_new_privs. */
function splitImage() {
  const b = new ImageBuilder();
  const bnd = me().caps.bounding & ~capBit(CAP.SYS_ADMIN) & ~capBit(CAP.SYS_MODULE);
  b.task(
    b.cred({
      uid: 1000, euid: 1001, suid: 1002, fsuid: 1003, gid: 50, egid: 51, sgid: 52, fsgid: 53,
      groups: [4, 24, 1000], caps: { bounding: bnd }, securebits: SECBIT.KEEP_CAPS,
    }),
    { noNewPrivs: true },
  );
  return b.build();
}

/** What the kernel shows in /proc/PID/status for a restarted program, vs the predicted cred. */
function procAgrees(pid, predicted, toRoot) {
  const s = status(pid);
  const c = predicted.cred;
  eq(nums(s.Uid), [c.uid, c.euid, c.suid, c.fsuid].map(toRoot.uid), `/proc/${pid}/status Uid`);
  eq(nums(s.Gid), [c.gid, c.egid, c.sgid, c.fsgid].map(toRoot.gid), `/proc/${pid}/status Gid`);
  eq(nums(s.Groups), [...c.groups.gids].map(toRoot.gid), `/proc/${pid}/status Groups`);
  for (const [k, f] of [['CapInh', 'inheritable'], ['CapPrm', 'permitted'], ['CapEff', 'effective'], ['CapBnd', 'bounding'], ['CapAmb', 'ambient']])
    eq(hex(s[k]), c.caps[f], `/proc/${pid}/status ${k}`);
  eq(s.NoNewPrivs === '1', predicted.noNewPrivs, `/proc/${pid}/status NoNewPrivs`);
}
const identity = { uid: (x) => x, gid: (x) => x };
const plus = (n) => ({ uid: (x) => x + n, gid: (x) => x + n });

// --- suites ---
const suites = {};
let probe;

suites.probe = async () => {
  await check('probe: runs', () => {
    probe = native().probe();
    return `release ${probe.release}, cap_last_cap ${probe.capLastCap}`;
  });
  if (!probe) return;
  await check('probe: release and cap_last_cap as the kernel publishes them', () => {
    eq(probe.release, fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(), 'release');
    eq(probe.release, os.release(), 'release vs uname');
    eq(probe.capLastCap, Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')), 'capLastCap');
    return `${probe.release} ${probe.machine}`;
  });
  await check('probe: linux-cr syscalls exactly as /proc/kallsyms shows them', () => {
    const syms = kallsyms();
    eq(probe.linuxCr.kallsymsReadable, true, 'kallsymsReadable');
    eq(probe.linuxCr.sysCheckpoint, symRe('sys_checkpoint').test(syms), 'sysCheckpoint');
    eq(probe.linuxCr.sysRestart, symRe('sys_restart').test(syms), 'sysRestart');
    return `sys_checkpoint ${probe.linuxCr.sysCheckpoint}, sys_restart ${probe.linuxCr.sysRestart}`;
  });
  await check('probe: user namespaces nest to the kernel limit, then ENOSPC', () => {
    const u = probe.userNamespaces;
    eq(u.canCreate, true, 'canCreate');
    ok(u.maxDepth >= 32, `maxDepth ${u.maxDepth} < 32`);
    eq(u.maxDepthError, 'ENOSPC', 'maxDepthError');
    eq(u.maxUserNamespaces, Number(fs.readFileSync('/proc/sys/user/max_user_namespaces', 'utf8')), 'maxUserNamespaces');
    return `maxDepth ${u.maxDepth} (${u.maxDepthError}), max_user_namespaces ${u.maxUserNamespaces}`;
  });
  await check('probe: securebits known (the seed six, nothing past bit 11)', () => {
    const k = probe.securebits.known;
    ok(k !== null, `securebits untestable: ${probe.securebits.error}`);
    eq(k & 0x3f, 0x3f, 'the seed six');
    eq(k >>> 12, 0, 'bits above 11');
    return `0x${k.toString(16)}`;
  });
  await check('probe: ptrace of a child works (root)', () => {
    eq(probe.ptrace, { works: true }, 'ptrace');
  });
};

suites.creds = async () => {
  await check('creds: readThreadCreds agrees with /proc/self/status', () => {
    const c = me();
    const s = status('self');
    eq([c.uid, c.euid, c.suid, c.fsuid], nums(s.Uid), 'Uid');
    eq([c.gid, c.egid, c.sgid, c.fsgid], nums(s.Gid), 'Gid');
    eq(c.groups, nums(s.Groups), 'Groups');
    eq(c.caps, { inheritable: hex(s.CapInh), permitted: hex(s.CapPrm), effective: hex(s.CapEff), bounding: hex(s.CapBnd), ambient: hex(s.CapAmb) }, 'caps');
    eq(c.noNewPrivs, s.NoNewPrivs === '1', 'NoNewPrivs');
    return `uid ${c.uid} gid ${c.gid} CapBnd ${s.CapBnd} securebits ${c.securebits}`;
  });
  await check('creds: parseProcStatus of our own status', () => {
    const text = fs.readFileSync('/proc/self/status', 'utf8');
    const p = native().parseProcStatus(text, '/proc/self/status');
    const s = status('self');
    eq(p.pid, process.pid, 'pid');
    eq(p.uids, nums(s.Uid), 'uids');
    eq(p.gids, nums(s.Gid), 'gids');
    eq(p.caps.bounding, hex(s.CapBnd), 'CapBnd');
    let err;
    try {
      native().parseProcStatus(text.replace(/^Uid:.*$/m, 'Uid:\t0\t0\t0'), '/proc/1/status');
    } catch (e) {
      err = e;
    }
    eq(err && err.code, 'ERR_PROC_PARSE', 'a malformed Uid line');
  });
  await check('creds: readLiveTasks of ourselves (securebits by prctl, no ptrace)', async () => {
    const [t] = await native().readLiveTasks([process.pid]);
    const c = me();
    eq(t.pid, process.pid, 'pid');
    eq(t.threads[0].uids, [c.uid, c.euid, c.suid, c.fsuid], 'uids');
    eq(t.threads[0].securebits, c.securebits, 'securebits');
    eq(t.userNsInode, BigInt(fs.statSync('/proc/self/ns/user').ino), 'userNsInode');
  });
};

suites.userns = async () => {
  await check('userns: the caller itself has no level; its inode is /proc/self/ns/user', async () => {
    eq(await native().readUserNsChain(process.pid), [], 'chain');
    eq(native().callerUserNsInode(), BigInt(fs.statSync('/proc/self/ns/user').ino), 'inode');
  });
  for (const depth of [1, 3, 8]) {
    await check(`userns: a chain ${depth} deep read back level by level`, async () => {
      const { image, levels } = nestedImage(depth, () => ({ uid: 7, gid: 8, groups: [9], caps: { bounding: full() } }));
      const h = startImage(image);
      try {
        const chain = await native().readUserNsChain(h.pid);
        eq(chain.length, depth, 'levels');
        eq(chain.map((l) => l.uidMap), levels, 'uid maps relative to each parent');
        eq(chain.map((l) => l.gidMap), levels, 'gid maps relative to each parent');
        eq(chain.map((l) => l.ownerUid), levels.map(() => 0), 'owners');
        ok(chain.every((l) => l.setgroups === 'allow'), 'setgroups');
        eq(chain[depth - 1].inode, BigInt(fs.statSync(`/proc/${h.pid}/ns/user`).ino), 'innermost inode');
        eq(new Set(chain.map((l) => l.inode)).size, depth, 'distinct inodes');
        // seen from here, uid 7 of the innermost level is 100000 + (depth-1) + 7
        const outer = 100000 + (depth - 1) + 7;
        eq(nums(status(h.pid).Uid), [outer, outer, outer, outer], `/proc/${h.pid}/status Uid`);
        return `inodes ${chain.map((l) => l.inode).join(',')}; uid 7 inside is ${outer} outside`;
      } finally {
        await stop(h);
      }
    });
  }
  await check('userns: a chain at the kernel limit (the probe depth) starts and reads back', async () => {
    const depth = (probe || native().probe()).userNamespaces.maxDepth;
    const { image } = nestedImage(depth, () => ({ uid: 0, caps: { bounding: full() } }));
    const h = startImage(image);
    try {
      const chain = await native().readUserNsChain(h.pid);
      eq(chain.length, depth, 'levels');
      return `${depth} levels`;
    } finally {
      await stop(h);
    }
  });
};

let roundTrip; // the image of the checkpoint suite, for the restart suite
const checkpointPath = () => (native().linuxCrAvailable() ? 'kernel sys_checkpoint' : 'live: /proc, ptrace, nsfs');

suites.checkpoint = async () => {
  await check('checkpoint: the BPF reader reads what ptrace reads, or says why it cannot', async () => {
    const image = distinctImage();
    const h = startImage(image);
    try {
      const viaPtrace = (await checkpoint(h.pid)).tasks[0].cred.securebits;
      const viaBpf = await checkpoint(h.pid, { securebitsReader: 'bpf' }).then(
        (i) => i.tasks[0].cred.securebits,
        (e) => (e.code === 'ERR_SECUREBITS_READER_UNAVAILABLE' ? e : Promise.reject(e)),
      );
      if (viaBpf instanceof Error) return `unavailable: ${viaBpf.message}`;
      eq(viaBpf, viaPtrace, 'securebits, BPF vs ptrace');
      return `available: securebits ${viaBpf} by both`;
    } finally {
      await stop(h);
    }
  });
  const cases = [
    ['uid 1000 in a user namespace, groups, ambient CAP_NET_BIND_SERVICE, SECBIT_NOROOT', distinctImage, plus(100000)],
    ['split ids, groups, reduced bounding, KEEP_CAPS, no_new_privs', splitImage, identity],
  ];
  for (const [what, make, toRoot] of cases) {
    await check(`checkpoint: ${what}`, async () => {
      const image = make();
      const plan = restart(image, '/bin/sleep', ['600'], { dryRun: true, cwd: '/' });
      const h = startImage(image);
      try {
        procAgrees(h.pid, plan.exec, toRoot);
        const taken = await checkpoint(h.pid);
        const bytes = encode(taken);
        eq(validate(bytes).map(String), [], 'validate');
        const back = decode(bytes);
        eq(back.tasks.length, 1, 'tasks');
        const predicted = lib.credentialFields({ cred: plan.exec.cred, noNewPrivs: plan.exec.noNewPrivs });
        const got = lib.credentialFields(back.tasks[0]);
        // The prediction carries the image's namespace objects: compare the chain's maps, not identity.
        const n = sameFields(predicted, got, 'decoded checkpoint vs predicted creds');
        eq(lib.credentialFields(taken.tasks[0]), got, 'decode(encode(image))');
        if (!roundTrip) roundTrip = { bytes, got, what };
        return `${n} fields equal after encode/decode (${bytes.length} bytes; ${checkpointPath()})`;
      } finally {
        await stop(h);
      }
    });
  }
  // Tasks stopped in an interrupted call, read every 200 ms: a relative sleep that keeps no
  // remainder (busybox usleep: glibc's usleep, nanosleep(&ts, NULL)), which the kernel restarts
  // through restart_syscall with the time left (reissued with its own arguments after each read
  // it would sleep its whole time again, and never end); and a shell in `wait` (sigsuspend: no
  // signal for the stub, the syscall stops instead) for a child's `sleep`. Each must end as it
  // does unread, securebits read right every time.
  const SLEEP_MS = 3000;
  const sleepers = [
    ['a relative sleep (usleep)', '/bin/usleep', [String(SLEEP_MS * 1000)]],
    ['a shell waiting for its child (sigsuspend)', '/bin/sh', ['-c', `sleep ${SLEEP_MS / 1000} & wait`]],
  ];
  for (const [what, program, args] of sleepers) {
    await check(`checkpoint: ${what} read every 200 ms still ends on time, securebits right`, async () => {
      const image = distinctImage();
      const plan = restart(image, program, args, { dryRun: true, cwd: '/' });
      const want = lib.credentialFields({ cred: plan.exec.cred, noNewPrivs: plan.exec.noNewPrivs }).securebits;
      const timed = async (read) => {
        const t0 = Date.now();
        const h = restart(image, program, args, { stdio: 'ignore', cwd: '/', env: { PATH: '/bin:/usr/bin' } });
        started.add(h);
        let ended = 0;
        const end = () => (ended = Date.now());
        const done = Promise.resolve(h).then(end, end);
        let reads = 0;
        try {
          while (!ended && read) {
            if (Date.now() - t0 > 4 * SLEEP_MS) throw new Error(`still asleep after ${Date.now() - t0} ms and ${reads} reads`);
            const taken = await checkpoint(h.pid).catch((e) => (ended ? null : Promise.reject(e)));
            if (!taken) break;
            eq(lib.credentialFields(taken.tasks[0]).securebits, want, `securebits at read ${reads + 1}`);
            reads++;
            await new Promise((r) => setTimeout(r, 200));
          }
          await done;
        } finally {
          if (!ended) await stop(h);
          started.delete(h);
        }
        return { ms: ended - t0, reads };
      };
      const plain = await timed(false);
      const read = await timed(true);
      ok(read.reads >= 5, `only ${read.reads} reads`);
      ok(read.ms < plain.ms + 1500, `read ${read.reads} times it took ${read.ms} ms, unread ${plain.ms} ms`);
      return `${SLEEP_MS} ms: unread ${plain.ms} ms, read ${read.reads} times ${read.ms} ms, securebits ${want}`;
    });
  }
  // A thread in SME streaming mode: the stub's syscall would end that mode, so the read is
  // refused (the task never runs the stub), and unknownSecurebits: 'mark' goes on without it.
  await check('checkpoint: a thread in SME streaming mode is refused, and left running', async () => {
    if (os.arch() !== 'arm64') skip('aarch64 only');
    if (!/^Features\s*:.*\bsme\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'))) skip('no SME on this CPU or kernel');
    const file = path.join(os.tmpdir(), 'crcreds-streaming');
    fs.writeFileSync(file, streamingElf(), { mode: 0o755 });
    const child = spawn(file, [], { stdio: 'ignore' });
    const gone = new Promise((r) => child.on('exit', (code, sig) => r(sig || code)));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const state = () => fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
      ok(state() === 'R', `the helper is not running in streaming mode: state ${state()}`);
      const err = await checkpoint(child.pid).then(() => null, (e) => e);
      ok(err && /SME streaming mode/.test(err.message), `no refusal: ${err && err.message}`);
      const marked = await checkpoint(child.pid, { unknownSecurebits: 'mark' });
      eq(marked.tasks[0].cred.securebits, null, 'securebits marked unknown');
      await new Promise((r) => setTimeout(r, 100));
      ok(state() === 'R', `after the reads: state ${state()}`);
      return `refused: ${err.message.slice(0, 120)}`;
    } finally {
      child.kill('SIGKILL');
      await gone;
      fs.rmSync(file, { force: true });
    }
  });
};

const REPORTER = (addon) => [
  process.execPath,
  '-e',
  `const c=require(${JSON.stringify(addon)}).readThreadCreds();` +
    `process.stdout.write(JSON.stringify(c,(k,v)=>typeof v==='bigint'?'0x'+v.toString(16):v))`,
];
const ADDON = path.join(ROOT, 'build', 'Release', 'cr_creds.node');

suites.restart = async () => {
  await check('restart: checkpoint -> image bytes -> restart -> checkpoint again: same creds', async () => {
    if (!roundTrip) {
      const h = startImage(distinctImage());
      try {
        const bytes = encode(await checkpoint(h.pid));
        roundTrip = { bytes, got: lib.credentialFields(decode(bytes).tasks[0]), what: 'distinct' };
      } finally {
        await stop(h);
      }
    }
    const again = startImage(roundTrip.bytes);
    try {
      const after = lib.credentialFields((await checkpoint(again.pid)).tasks[0]);
      const n = sameFields(roundTrip.got, after, 'restarted vs original');
      return `${n} of ${n} fields identical`;
    } finally {
      await stop(again);
    }
  });
  await check('restart: the program reports (via the addon) exactly the predicted creds', async () => {
    const image = distinctImage();
    const argv = REPORTER(ADDON);
    const plan = restart(image, argv[0], argv.slice(1), { dryRun: true, cwd: '/' });
    const r = await restart(image, argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], cwd: '/', env: {}, buffer: true });
    eq([r.exitCode, r.signal], [0, null], 'exit');
    const out = r.stdout;
    const got = JSON.parse(out, (k, v) => (typeof v === 'string' && v.startsWith('0x') ? BigInt(v) : v));
    const c = plan.exec.cred;
    eq(
      { ids: [got.uid, got.euid, got.suid, got.fsuid, got.gid, got.egid, got.sgid, got.fsgid], groups: got.groups, caps: got.caps, securebits: got.securebits, nnp: got.noNewPrivs },
      { ids: [c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid], groups: [...c.groups.gids], caps: c.caps, securebits: c.securebits, nnp: plan.exec.noNewPrivs },
      'reported vs predicted',
    );
    return `uid ${got.uid}, groups ${got.groups}, ambient ${capHex(got.caps.ambient)}, securebits ${got.securebits}`;
  });
  await check('restart: the linux-cr path through the stand-in for sys_restart', async () => {
    const c = me();
    const b = new ImageBuilder();
    b.task(b.cred({ uid: c.uid, euid: c.euid, suid: c.suid, fsuid: c.fsuid, gid: c.gid, egid: c.egid, sgid: c.sgid, fsgid: c.fsgid, groups: c.groups, securebits: c.securebits, caps: { ...c.caps } }));
    const image = b.build();
    const plan = restartForTests(image, '/bin/true', [], { linuxCrStandIn: true, dryRun: true });
    eq(plan.path, 'linux-cr-stand-in', 'path');
    const r = await restartForTests(image, '/bin/true', [], { linuxCrStandIn: true, stdio: 'ignore', cwd: '/' });
    eq([r.exitCode, r.signal], [0, null], 'exit');
    const err = await restartForTests(image, '/bin/true', [], { linuxCrStandIn: { errno: 22 }, stdio: 'ignore', cwd: '/' }).then(() => null, (e) => e);
    eq(err && [err.code, err.op], ['EINVAL', 'sys_restart'], 'a failing sys_restart');
  });
  await check('restart: a denied image starts nothing (RestartDenied)', () => {
    // Root in the guest holds every capability: the one refusal that holds for any caller is a
    // bounding bit past cap_last_cap.
    const b = new ImageBuilder();
    b.task(b.cred({ uid: 1000, caps: { bounding: me().caps.bounding | (1n << BigInt(native().probe().capLastCap + 1)) } }));
    let err;
    try {
      restart(b.build(), '/bin/true', [], { stdio: 'ignore' });
    } catch (e) {
      err = e;
    }
    ok(err instanceof RestartDenied, `expected RestartDenied, got ${err && (err.stack || err)}`);
    return err.message.split('\n')[0];
  });
  await check('restart: through the kernel (sys_restart of a linux-cr kernel)', async () => {
    if (!native().linuxCrAvailable()) skip('no sys_checkpoint/sys_restart in /proc/kallsyms: the fallback (ops in the child) was used above');
    if (opts.sysRestartNr === undefined) skip('linux-cr kernel, but no crcreds.sysrestartnr= given');
    const h = startImage(distinctImage());
    let image;
    try {
      image = await checkpoint(h.pid); // the kernel's own checkpoint
    } finally {
      await stop(h);
    }
    const plan = restart(image, '/bin/sleep', ['600'], { dryRun: true, sysRestartNr: opts.sysRestartNr });
    eq(plan.path, 'linux-cr', 'path');
    const again = startImage(image, { sysRestartNr: opts.sysRestartNr });
    try {
      const n = sameFields(lib.credentialFields(image.tasks[0]), lib.credentialFields((await checkpoint(again.pid)).tasks[0]), 'sys_restart round trip');
      return `${n} fields identical through sys_checkpoint/sys_restart`;
    } finally {
      await stop(again);
    }
  });
};

suites.linuxcr = async () => {
  const syms = kallsyms();
  const has = symRe('sys_checkpoint').test(syms) && symRe('sys_restart').test(syms);
  await check('linux-cr: linuxCrAvailable agrees with /proc/kallsyms', () => {
    eq(native().linuxCrAvailable(), has, 'linuxCrAvailable');
    return `available ${has}`;
  });
  await check('linux-cr: without sys_checkpoint, linuxCrCheckpoint is ERR_NO_LINUX_CR', () => {
    if (has) skip('this kernel has linux-cr: the call would be real');
    let err;
    try {
      native().linuxCrCheckpoint(process.pid, 1, 0);
    } catch (e) {
      err = e;
    }
    eq(err && err.code, 'ERR_NO_LINUX_CR', 'code');
    ok(/sys_checkpoint is not in \/proc\/kallsyms/.test(err.message), err.message);
    return err.message;
  });
  await check('linux-cr: with sys_checkpoint, the kernel checkpoint agrees with the live read', async () => {
    if (!has) skip('no linux-cr on this kernel');
    const h = startImage(distinctImage());
    try {
      const k = await checkpoint(h.pid, { kernel: 'auto' });
      const l = await checkpoint(h.pid, { kernel: 'never' });
      return `${sameFields(lib.credentialFields(l.tasks[0]), lib.credentialFields(k.tasks[0]), 'kernel vs live')} fields equal`;
    } finally {
      await stop(h);
    }
  });
  await check('linux-cr: no syscall 312-314 is issued (under strace -f)', async () => {
    if (has) skip('this kernel has linux-cr: 312-314 may be real');
    const strace = ['/usr/bin/strace', '/bin/strace'].find((p) => fs.existsSync(p));
    if (!strace) skip('no strace in this system');
    const h = startImage(nestedImage(2, () => ({ uid: 5, caps: { bounding: full() }, securebits: 16 })).image);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-creds-strace-'));
    const log = path.join(dir, 'log');
    try {
      const script = `
        const b = require(${JSON.stringify(ADDON)});
        (async () => {
          b.probe();
          await b.readLiveTasks([${h.pid}, process.pid], { threads: true, unknownSecurebits: 'mark' });
          await b.readUserNsChain(${h.pid});
          await b.readSecurebits(${h.pid});
          try { b.linuxCrCheckpoint(${h.pid}, 1, 0); } catch (e) { if (e.code !== 'ERR_NO_LINUX_CR') throw e; }
          console.log('done');
        })().catch((e) => { console.error(e); process.exit(1); });`;
      const child = spawn(strace, ['-f', '--seccomp-bpf', '-qq', '-o', log, '-e', 'trace=kcmp,finit_module,sched_setattr,ptrace', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const code = await new Promise((r) => child.on('close', r));
      ok(out.includes('done') && code === 0, `child: exit ${code}: ${out}`);
      const text = fs.readFileSync(log, 'utf8');
      ok(/ptrace\(PTRACE_SEIZE/.test(text), 'the filter saw no PTRACE_SEIZE: strace did not see the addon');
      ok(!/kcmp|finit_module|sched_setattr|syscall_0x13[89a]|syscall_31[234]/.test(text), `a 312-314 syscall was issued:\n${text}`);
      return `${text.split('\n').filter(Boolean).length} traced calls, all ptrace`;
    } finally {
      await stop(h);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
};

// --- main ---
let opts;
let hostRelease = null;
const guest = { release: os.release(), version: fs.readFileSync('/proc/sys/kernel/version', 'utf8').trim() };
async function main() {
  opts = options();
  say(`cr-creds guest tests: kernel ${guest.release} (${guest.version}); host kernel ${hostRelease || 'not given'}; node ${process.version}; uid ${process.getuid()}`);
  if (hostRelease) say(`guest kernel ${guest.release === hostRelease ? 'EQUALS' : 'differs from'} the host's (${guest.release} vs ${hostRelease})`);
  const t0 = Date.now();
  for (const s of opts.suites) {
    say(`-- ${s}`);
    await suites[s]();
  }
  for (const h of started) h.kill('SIGKILL');
  if (!probe) {
    try {
      probe = native().probe();
    } catch {}
  }
  const summary = {
    guestKernel: guest,
    hostKernel: hostRelease,
    node: process.version,
    suites: opts.suites,
    pass: results.pass,
    fail: results.fail,
    skip: results.skip,
    failed: results.failed,
    ms: Date.now() - t0,
    checkpointPath: checkpointPath(),
    probe: probe || null,
  };
  say('CRCREDS-RESULT ' + JSON.stringify(summary));
  return results.fail === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    say(`FAIL guest-tests: ${(e && e.stack) || e}`);
    const r = { guestKernel: guest, hostKernel: hostRelease, node: process.version, pass: results.pass, fail: results.fail + 1, skip: results.skip };
    say('CRCREDS-RESULT ' + JSON.stringify({ ...r, failed: [...results.failed, 'guest-tests'], error: String((e && e.message) || e), probe: probe || null }));
    process.exit(1);
  },
);
