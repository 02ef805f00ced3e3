#!/usr/bin/env bash
# Boots a kernel under QEMU with an initramfs holding Node, this package and its native checks
# (scripts/qemu/guest-tests.js), runs them inside and reports the results and the guest
# kernel's probe. See docs/qemu.md.
#
#   scripts/qemu/run.sh [--arch x64|arm64] [--kernel PATH] [--tests LIST] [--timeout SECONDS] [--keep]
#                       [--accel auto|kvm|tcg] [--mem MB] [--smp N] [--compress none|gzip|zstd]
#                       [--sys-restart-nr N] [--append 'KERNEL ARGS'] [--bench] [--no-build] [--quiet]
#
#   --arch A        x64 (default): qemu-system-x86_64 with this host's node and addon;
#                   arm64: qemu-system-aarch64 -M virt -cpu max (TCG), Debian's arm64 kernel,
#                   busybox and node (setup.sh --arch arm64) and the cross-built addon
#                   prebuilds/linux-arm64 (npm run prebuilds -- arm64)
#   --kernel PATH   bzImage/vmlinuz to boot. Default: the newest vmlinuz that scripts/qemu/setup.sh
#                   unpacked from Debian's linux-image-amd64 (in $CR_CREDS_QEMU_CACHE, default
#                   /var/cache/cr-creds-qemu), else the newest /boot/vmlinuz-*.
#   --tests LIST    comma-separated suites: probe,creds,userns,checkpoint,restart,linuxcr (default all)
#   --timeout S     wall-clock limit of the boot and the tests (default 900)
#   --keep          keep the work directory (initramfs, serial log) and print where it is
#   --accel         auto (default): KVM when it can be used, else TCG (software emulation)
#   --sys-restart-nr N   a linux-cr kernel's sys_restart number: restart goes through the kernel
#   --bench         then scripts/bench-checkpoint.js in the guest, small sizes (its figures
#                   check that it runs; under TCG they say nothing of speed)
#   --no-build      do not run `tsc -p tsconfig.build.json` first (use dist/ as it is)
#   --quiet         do not echo the guest's console, only the summary
#
# Run as root (setup.sh installs packages; the checks inside the guest run as its root).
# Exit code: 0 all checks passed, 1 a check failed or the guest gave no result,
# 2 usage or setup error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PKG=$(cd "$HERE/../.." && pwd)
CACHE=${CR_CREDS_QEMU_CACHE:-/var/cache/cr-creds-qemu}

ARCH=x64 KERNEL= TESTS=all TIMEOUT=900 KEEP=0 ACCEL=auto MEM=2048 SMP=2 COMPRESS=none SYSRESTARTNR= APPEND= BUILD=1 QUIET=0 BENCH=0
usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
arg() { [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
    --arch) arg "$@"; ARCH=$2; shift 2 ;;
    --kernel) arg "$@"; KERNEL=$2; shift 2 ;;
    --tests) arg "$@"; TESTS=$2; shift 2 ;;
    --timeout) arg "$@"; TIMEOUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --accel) arg "$@"; ACCEL=$2; shift 2 ;;
    --mem) arg "$@"; MEM=$2; shift 2 ;;
    --smp) arg "$@"; SMP=$2; shift 2 ;;
    --compress) arg "$@"; COMPRESS=$2; shift 2 ;;
    --sys-restart-nr) arg "$@"; SYSRESTARTNR=$2; shift 2 ;;
    --append) arg "$@"; APPEND=$2; shift 2 ;;
    --bench) BENCH=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --quiet) QUIET=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
done
case "$ARCH" in x64|amd64|x86_64) ARCH=x64 ;; arm64|aarch64) ARCH=arm64 ;;
  *) echo "run.sh: --arch x64|arm64" >&2; exit 2 ;; esac
case "$ACCEL" in auto|kvm|tcg) ;; *) echo "run.sh: --accel auto|kvm|tcg" >&2; exit 2 ;; esac
case "$COMPRESS" in none|gzip|zstd) ;; *) echo "run.sh: --compress none|gzip|zstd" >&2; exit 2 ;; esac
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || { echo "run.sh: --timeout takes seconds" >&2; exit 2; }
for t in ${TESTS//,/ }; do
  case "$t" in all|probe|creds|userns|checkpoint|restart|linuxcr) ;;
    *) echo "run.sh: unknown suite '$t' (probe,creds,userns,checkpoint,restart,linuxcr or all)" >&2; exit 2 ;;
  esac
done

log() { echo "run.sh: $*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --- tools and kernel ---
busybox_ok() { [ -x /bin/busybox ] && [[ "$(ldd /bin/busybox 2>&1 || true)" == *"not a dynamic"* ]]; }
newest_kernel() {
  local k
  if [ $ARCH = arm64 ]; then
    k=$(ls "$CACHE"/*-arm64/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1 || true)
  else
    k=$(ls "$CACHE"/*/boot/vmlinuz-* 2>/dev/null | grep -v -- '-arm64/' | sort -V | tail -n1 || true)
    [ -n "$k" ] || k=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1 || true)
  fi
  echo "$k"
}
SYSROOT="$CACHE/arm64-sysroot"
if [ $ARCH = arm64 ]; then
  if ! command -v qemu-system-aarch64 >/dev/null || ! command -v cpio >/dev/null || [ ! -x "$SYSROOT/usr/bin/node" ] \
     || { [ -z "$KERNEL" ] && [ -z "$(newest_kernel)" ]; }; then
    log "qemu-system-arm, cpio, the arm64 sysroot or kernel missing: running scripts/qemu/setup.sh --arch arm64"
    "$HERE/setup.sh" --arch arm64 >/dev/null || { log "setup.sh failed"; exit 2; }
  fi
elif ! command -v qemu-system-x86_64 >/dev/null || ! command -v cpio >/dev/null || ! busybox_ok \
   || { [ -z "$KERNEL" ] && [ -z "$(newest_kernel)" ]; }; then
  log "qemu-system-x86, cpio, busybox-static or a kernel missing: running scripts/qemu/setup.sh"
  "$HERE/setup.sh" >/dev/null || { log "setup.sh failed"; exit 2; }
fi
[ -n "$KERNEL" ] || KERNEL=$(newest_kernel)
[ -r "$KERNEL" ] || { log "no readable kernel image: '$KERNEL'"; exit 2; }
NODE=$(command -v node) || { log "node is not on PATH"; exit 2; }
NODE=$(readlink -f "$NODE")   # the host's: it stages the package (and is the guest's on x64)
if [ $ARCH = arm64 ]; then
  ADDON="$PKG/prebuilds/linux-arm64/cr-creds.glibc.node"
  [ -f "$ADDON" ] || { log "$ADDON missing: run npm run prebuilds -- arm64 first"; exit 2; }
else
  ADDON="$PKG/build/Release/cr_creds.node"
  [ -f "$ADDON" ] || { log "$ADDON missing: run npm ci (or npm run build:native) first"; exit 2; }
fi

TSC_S=skipped
if [ $BUILD = 1 ]; then
  log "compiling the TypeScript (tsc -p tsconfig.build.json)"
  t0=$(now)
  (cd "$PKG" && "$PKG/node_modules/.bin/tsc" -p tsconfig.build.json) || { log "tsc failed"; exit 2; }
  TSC_S="$(secs "$t0" "$(now)")s"
fi
[ -f "$PKG/dist/index.js" ] || { log "$PKG/dist/index.js missing (drop --no-build)"; exit 2; }

WORK=$(mktemp -d /tmp/cr-creds-qemu.XXXXXX)
cleanup() { if [ $KEEP = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
ROOT="$WORK/root"
GUEST_PKG=/cr-creds

# --- the initramfs ---
t_build0=$(now)
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc} "$ROOT$GUEST_PKG"

# busybox: the shell of /init, mount, poweroff, and the programs the checks restart (sleep, true)
if [ $ARCH = arm64 ]; then
  # an arm64 busybox cannot list its applets here: /init installs their links first thing
  cp "$SYSROOT/bin/busybox" "$ROOT/bin/busybox"
  ln -s busybox "$ROOT/bin/sh"
else
  cp /bin/busybox "$ROOT/bin/busybox"
  for a in $(/bin/busybox --list-full); do
    [ -e "$ROOT/$a" ] || [ -L "$ROOT/$a" ] || ln -s /bin/busybox "$ROOT/$a"
  done
fi

# A program and every shared library ldd lists, plus the dynamic loader, at the same paths.
copy_elf() {
  local f=$1 dest=${2:-$1}
  mkdir -p "$ROOT$(dirname "$dest")"
  rm -f "$ROOT$dest"
  cp -L "$f" "$ROOT$dest"
  ldd "$f" 2>/dev/null | awk '/=> \//{ print $3 } /^[[:space:]]*\//{ print $1 }' | while read -r lib; do
    [ -e "$ROOT$lib" ] || { mkdir -p "$ROOT$(dirname "$lib")"; cp -L "$lib" "$ROOT$lib"; }
  done
}
# arm64: the same from the sysroot, the libraries found by their NEEDED entries (ldd cannot run
# an arm64 program here), the loader by the program's PT_INTERP.
copy_elf_arm64() {
  local f=$1 dest=$2 todo lib p seen=" "
  mkdir -p "$ROOT$(dirname "$dest")"
  cp -L "$f" "$ROOT$dest"
  local interp
  interp=$(readelf -l "$f" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
  if [ -n "$interp" ] && [ ! -e "$ROOT$interp" ]; then
    mkdir -p "$ROOT$(dirname "$interp")"; cp -L "$SYSROOT$interp" "$ROOT$interp"
  fi
  todo=("$f")
  while [ ${#todo[@]} -gt 0 ]; do
    for lib in $(readelf -d "${todo[0]}" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [[ "$seen" == *" $lib "* ]] && continue
      seen+="$lib "
      for d in /lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu; do
        p="$SYSROOT$d/$lib"
        [ -e "$p" ] || continue
        if [ ! -e "$ROOT$d/$lib" ]; then mkdir -p "$ROOT$d"; cp -L "$p" "$ROOT$d/$lib"; fi
        todo+=("$p")
        break
      done
      [ -e "$ROOT/lib/aarch64-linux-gnu/$lib" ] || [ -e "$ROOT/usr/lib/aarch64-linux-gnu/$lib" ] \
        || { log "$lib (NEEDED by $(basename "${todo[0]}")) not in $SYSROOT"; exit 2; }
    done
    todo=("${todo[@]:1}")
  done
}
if [ $ARCH = arm64 ]; then
  copy_elf_arm64 "$SYSROOT/usr/bin/node" /usr/bin/node
  copy_elf_arm64 "$ADDON" "$GUEST_PKG/build/Release/cr_creds.node"
  # the modules Debian's node loads from there (its externalized builtins)
  mkdir -p "$ROOT/usr/share"
  cp -rL "$SYSROOT/usr/share/nodejs" "$ROOT/usr/share/nodejs"
else
  copy_elf "$NODE" /usr/bin/node
  copy_elf "$ADDON" "$GUEST_PKG/build/Release/cr_creds.node"
  # strace, when the host has it: the linux-cr check then watches syscalls 312-314 too.
  STRACE=$(command -v strace || true)
  [ -n "$STRACE" ] && copy_elf "$(readlink -f "$STRACE")" /usr/bin/strace
fi

# The package: package.json, dist/, the addon, the runtime dependencies, the guest runner.
cp "$PKG/package.json" "$ROOT$GUEST_PKG/"
cp -r "$PKG/dist" "$ROOT$GUEST_PKG/dist"
mkdir -p "$ROOT$GUEST_PKG/scripts/qemu"
cp "$HERE/guest-tests.js" "$ROOT$GUEST_PKG/scripts/qemu/"
if [ $BENCH = 1 ]; then
  # the bench and its C floor, compiled here (the guest has no compiler)
  cp "$PKG/scripts/bench-checkpoint.js" "$ROOT$GUEST_PKG/scripts/"
  if [ $ARCH = arm64 ]; then FLOOR_CC=aarch64-linux-gnu-gcc; else FLOOR_CC=cc; fi
  command -v $FLOOR_CC >/dev/null || { log "--bench needs $FLOOR_CC"; exit 2; }
  $FLOOR_CC -O2 -o "$ROOT$GUEST_PKG/scripts/floor" "$PKG/scripts/bench/floor.c" || { log "floor.c does not build"; exit 2; }
fi
"$NODE" -e '
  // The runtime dependency closure (dependencies, optionalDependencies), as resolved here.
  const path = require("path"), fs = require("fs");
  const seen = new Set();
  const walk = (dir) => {
    const pj = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    for (const name of Object.keys({ ...pj.dependencies, ...pj.optionalDependencies })) {
      let p;
      try { p = path.dirname(require.resolve(name + "/package.json", { paths: [dir] })); }
      catch { continue; }
      if (!seen.has(p)) { seen.add(p); walk(p); }
    }
  };
  walk(process.argv[1]);
  for (const p of seen) console.log(path.relative(process.argv[1], p));
' "$PKG" | while read -r rel; do
  mkdir -p "$ROOT$GUEST_PKG/$(dirname "$rel")"
  cp -r "$PKG/$rel" "$ROOT$GUEST_PKG/$rel"
done

# /init: mounts, runs the checks, powers off (also when node dies).
cat > "$ROOT/init" <<'EOF'
#!/bin/sh
export PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/root
[ -e /bin/mount ] || /bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
echo "CRCREDS-BOOT kernel $(uname -r) $(uname -m) node $(node -v) up $(cut -d' ' -f1 /proc/uptime)s, $(grep -c ^processor /proc/cpuinfo) cpu(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
cd /
node /cr-creds/scripts/qemu/guest-tests.js
echo "CRCREDS-EXIT $? up $(cut -d' ' -f1 /proc/uptime)s"
if [ -f /cr-creds/scripts/bench-checkpoint.js ]; then
  echo "CRCREDS-BENCH-BEGIN"
  FLOOR=/cr-creds/scripts/floor ROUNDS=10 BLOCKS=3 WARMUP=200 TREE=20 TREE_RUNS=1 node /cr-creds/scripts/bench-checkpoint.js
  echo "CRCREDS-BENCH-END $? up $(cut -d' ' -f1 /proc/uptime)s"
fi
poweroff -f
EOF
echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOT/etc/passwd"
echo 'root:x:0:' > "$ROOT/etc/group"
chmod 755 "$ROOT/init"
chmod -R a+rX "$ROOT"   # restarted programs run as other uids and load the addon

# Sanity check on the host: the staged package loads from its own node_modules (x64: the arm64
# addon cannot load here).
if [ $ARCH = x64 ]; then
  (cd / && "$NODE" -e 'require(process.argv[1])' "$ROOT$GUEST_PKG/dist/index.js") \
    || { log "the staged package does not load"; exit 2; }
fi

INITRD="$WORK/initramfs.cpio"
(cd "$ROOT" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) > "$INITRD"
case "$COMPRESS" in
  gzip) gzip -1 "$INITRD"; INITRD="$INITRD.gz" ;;
  zstd) zstd -q -T0 --rm "$INITRD"; INITRD="$INITRD.zst" ;;
esac
t_build1=$(now)
BUILD_S=$(secs "$t_build0" "$t_build1")
SIZE_MB=$(du -m "$INITRD" | cut -f1)
log "initramfs: $SIZE_MB MB ($COMPRESS), built in ${BUILD_S}s"

# --- accelerator ---
# KVM only when it really runs a guest: /dev/kvm can exist where the CPU has no vmx/svm (then
# QEMU either aborts setting MSRs or hangs after the real-mode boot code). The probe boots the
# kernel without an initramfs and waits for its panic (a second or two under working KVM).
ACCEL_USED=tcg ACCEL_NOTE=
kvm_probe() {
  [ -r /dev/kvm ] && [ -w /dev/kvm ] || { ACCEL_NOTE="no usable /dev/kvm"; return 1; }
  [ "$ACCEL" = kvm ] || grep -qwE 'vmx|svm' /proc/cpuinfo || { ACCEL_NOTE="no vmx/svm in /proc/cpuinfo"; return 1; }
  local out
  out=$(timeout -s KILL 20 qemu-system-x86_64 -accel kvm -cpu host -m 256 -kernel "$KERNEL" \
        -append 'console=ttyS0 panic=-1 loglevel=1 rdinit=/none' -nodefaults -display none \
        -no-reboot -serial stdio -monitor none </dev/null 2>&1)
  grep -q 'Kernel panic\|Kernel Offset' <<<"$out" && return 0
  ACCEL_NOTE="a test boot under KVM did not reach the kernel: $(grep -m1 -i 'error\|fail' <<<"$out" | tr -d '\r')"
  return 1
}
if [ $ARCH = arm64 ]; then
  [ "$ACCEL" != kvm ] || { log "--arch arm64 runs under TCG only (an x86-64 host)"; exit 2; }
  ACCEL_NOTE="arm64 guest on an x86-64 host"
elif [ "$ACCEL" != tcg ]; then
  if kvm_probe; then ACCEL_USED=kvm
  elif [ "$ACCEL" = kvm ]; then log "KVM unusable: $ACCEL_NOTE"; exit 2
  fi
fi
if [ $ACCEL_USED = kvm ]; then CPU=host; else CPU=max; fi
# arm64: -cpu max with the implementation-defined pointer-authentication algorithm (QEMU's
# architected one is slow to emulate).
QEMU=(qemu-system-x86_64) CONSOLE=ttyS0
[ $ARCH = arm64 ] && QEMU=(qemu-system-aarch64 -M virt) CPU=max,pauth-impdef=on CONSOLE=ttyAMA0
log "accelerator: $ACCEL_USED${ACCEL_NOTE:+ (KVM unusable: $ACCEL_NOTE)}"

# --- boot and run ---
HOST_RELEASE=$(uname -r)
CMDLINE="console=$CONSOLE rdinit=/init panic=-1 quiet loglevel=3 crcreds.tests=$TESTS crcreds.host=$HOST_RELEASE"
[ -n "$SYSRESTARTNR" ] && CMDLINE+=" crcreds.sysrestartnr=$SYSRESTARTNR"
[ -n "$APPEND" ] && CMDLINE+=" $APPEND"
SERIAL="$WORK/serial.log"
log "booting $KERNEL (timeout ${TIMEOUT}s)"
t_boot0=$(now)
set +e
timeout -s KILL "$TIMEOUT" "${QEMU[@]}" \
  -accel "$ACCEL_USED" -cpu "$CPU" -smp "$SMP" -m "$MEM" \
  -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE" \
  -nodefaults -display none -no-reboot -serial stdio -monitor none \
  </dev/null | stdbuf -oL tr -d '\r' | if [ $QUIET = 1 ]; then cat > "$SERIAL"; else tee "$SERIAL"; fi
QEMU_RC=${PIPESTATUS[0]}
set -e
t_boot1=$(now)
BOOT_S=$(secs "$t_boot0" "$t_boot1")

# --- the report ---
RESULT=$(grep -a '^CRCREDS-RESULT ' "$SERIAL" | tail -n1 | cut -d' ' -f2- || true)
GUEST_EXIT=$(grep -a '^CRCREDS-EXIT ' "$SERIAL" | tail -n1 | cut -d' ' -f2 || true)
echo
echo "== cr-creds QEMU harness =="
echo "host kernel:   $HOST_RELEASE ($(uname -v))"
echo "guest kernel:  $KERNEL"
echo "accelerator:   $ACCEL_USED${ACCEL_NOTE:+ (KVM unusable: $ACCEL_NOTE)}, -cpu $CPU -smp $SMP -m $MEM"
echo "dist (tsc):    $TSC_S"
echo "initramfs:     $SIZE_MB MB ($COMPRESS), built in ${BUILD_S}s"
echo "boot + tests:  ${BOOT_S}s (qemu exit $QEMU_RC$([ "$QEMU_RC" = 137 ] && echo ", killed at the ${TIMEOUT}s timeout"))"
if [ -z "$RESULT" ]; then
  echo "result:        NONE (no CRCREDS-RESULT line on the serial console)"
  tail -n 30 "$SERIAL" | sed 's/^/  | /'
  KEEP=1
  exit 1
fi
grep -a '^FAIL ' "$SERIAL" | sed 's/^/  /' || true
if [ $BENCH = 1 ]; then
  echo "bench-checkpoint in the guest:"
  sed -n '/^CRCREDS-BENCH-BEGIN/,/^CRCREDS-BENCH-END/p' "$SERIAL" | sed '1d;s/^/  | /'
fi
"$NODE" -e '
  const r = JSON.parse(process.argv[1]);
  const p = r.probe || {};
  const g = r.guestKernel || {};
  console.log(`guest says:    ${g.release} ${g.version} (host ${r.hostKernel}: ${g.release === r.hostKernel ? "SAME" : "different"} kernel)`);
  if (p.linuxCr) {
    console.log(`guest probe:   cap_last_cap ${p.capLastCap}, securebits known 0x${(p.securebits.known ?? 0).toString(16)}, ` +
      `userns maxDepth ${p.userNamespaces.maxDepth} (${p.userNamespaces.maxDepthError}), ptrace ${p.ptrace.works}, ` +
      `linux-cr sys_checkpoint ${p.linuxCr.sysCheckpoint} sys_restart ${p.linuxCr.sysRestart}`);
  }
  if (r.checkpointPath) console.log(`checkpoint:    ${r.checkpointPath}`);
  if (r.error) console.log(`guest error:   ${r.error}`);
  console.log(`checks:        ${r.pass} passed, ${r.fail} failed, ${r.skip} skipped` + (r.ms ? ` in ${(r.ms / 1000).toFixed(1)}s inside the guest` : "") +
    (r.failed && r.failed.length ? ` (failed: ${r.failed.join("; ")})` : ""));
  console.log(`probe JSON:    ${JSON.stringify(p)}`);
  process.exitCode = r.fail === 0 ? 0 : 1;
' "$RESULT" || { [ $KEEP = 1 ] || log "rerun with --keep to keep the serial log"; exit 1; }
[ "$GUEST_EXIT" = 0 ] || { echo "guest runner exit: ${GUEST_EXIT:-none}"; exit 1; }
exit 0
