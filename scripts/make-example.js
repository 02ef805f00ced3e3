#!/usr/bin/env node
// Regenerates examples/example.img (v21, the default dialect, with the real-kernel prefix) with
// the project's own writer (run `npx tsc -p tsconfig.build.json` first). Fixed time so the file
// is reproducible byte for byte.
'use strict';
const fs = require('fs');
const path = require('path');
const { ImageBuilder, encode, decode } = require('../dist/format');
const { CAP, fullCapSet, SECBIT } = require('../dist/model');

const b = new ImageBuilder({ header: { time: 1780000000n, kernel: { major: 6, minor: 18, patch: 0, rev: 0 }, uts: { release: '6.18.0', version: '#1 SMP PREEMPT_DYNAMIC', machine: 'x86_64' } } });
const all = fullCapSet(40);
const bit = (n) => 1n << BigInt(n);

// A 2-level user-namespace chain: root -> ns1 (created by uid 1000) -> ns2 (created by uid 0 of ns1).
const owner = b.user(1000);
const ns1 = b.namespace(owner, { uidMap: [{ inside: 0, outside: 1000, count: 1 }], gidMap: [{ inside: 0, outside: 1000, count: 1 }], setgroups: 'deny' });
const ns2 = b.namespace(b.user(0, ns1), { uidMap: [{ inside: 0, outside: 0, count: 1 }] });

// Root with everything but CAP_SYS_RESOURCE in its bounding set (as on the build machine).
const rootCred = b.cred({ uid: 0, groups: [0, 4, 27], caps: { permitted: all, effective: all, bounding: all & ~bit(CAP.SYS_RESOURCE) } });
// A service user that keeps CAP_NET_BIND_SERVICE as an ambient cap (the extension).
const svc = b.cred({
  uid: 1000, gid: 1000, groups: [1000, 100],
  caps: { inheritable: bit(CAP.NET_BIND_SERVICE), permitted: bit(CAP.NET_BIND_SERVICE), effective: bit(CAP.NET_BIND_SERVICE), bounding: all, ambient: bit(CAP.NET_BIND_SERVICE) },
  securebits: SECBIT.KEEP_CAPS | SECBIT.NOROOT | SECBIT.NOROOT_LOCKED,
});
// Root inside ns2, used as an override (effective cred) of task 1.
const inner = b.cred({ uid: 0, user: b.user(0, ns2), caps: { permitted: all, effective: all, bounding: all } });

b.task(rootCred);
b.task(svc, { ecred: inner, pids: { vppid: 1 } });
b.task(svc, { pids: { vppid: 1 }, noNewPrivs: true });

const bytes = encode(b.build());
decode(bytes); // never commit an image our own reader refuses
const out = path.join(__dirname, '..', 'examples', 'example.img');
fs.writeFileSync(out, bytes);
console.log(`wrote ${out} (${bytes.length} bytes)`);
