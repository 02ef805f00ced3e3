#!/usr/bin/env bash
# One-time setup for the QEMU harness (scripts/qemu/run.sh), as root on Debian 12:
#  - qemu-system-x86, cpio and busybox-static from apt (the guest's shell and tools are busybox);
#  - Debian's kernel (the package linux-image-amd64 depends on) downloaded with `apt-get download`
#    and unpacked with `dpkg-deb -x` into a cache directory: nothing goes to /boot, no
#    update-initramfs, no grub. The harness only needs the vmlinuz image.
#  --arch arm64: qemu-system-arm from apt; Debian's arm64 kernel (linux-image-arm64), its
#    busybox-static and its nodejs with the libraries it links (libnode, libuv, ICU, OpenSSL...)
#    downloaded with `apt-get download` and unpacked with `dpkg-deb -x` into the cache's arm64
#    sysroot; nothing arm64 is installed on the host. Downloading arm64 packages needs the arm64
#    architecture in dpkg's list: setup.sh adds it (`dpkg --add-architecture arm64`, then
#    `apt-get update`) and changes nothing else in apt's configuration.
#
#   scripts/qemu/setup.sh                 # packages + Debian's current kernel into the cache
#   scripts/qemu/setup.sh --kernel-pkg linux-image-6.1.0-56-amd64   # a given kernel package
#   scripts/qemu/setup.sh --arch arm64    # the aarch64 guest's kernel, busybox and node
#   CR_CREDS_QEMU_CACHE=/some/dir scripts/qemu/setup.sh
#
# Prints the path of the unpacked vmlinuz on its last line.
set -euo pipefail

CACHE=${CR_CREDS_QEMU_CACHE:-/var/cache/cr-creds-qemu}
KPKG=
ARCH=amd64
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel-pkg) KPKG=$2; shift 2 ;;
    --kernel-pkg=*) KPKG=${1#*=}; shift ;;
    --arch) ARCH=$2; shift 2 ;;
    --arch=*) ARCH=${1#*=}; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$ARCH" in amd64|x64|x86_64) ARCH=amd64 ;; arm64|aarch64) ARCH=arm64 ;;
  *) echo "setup.sh: --arch amd64|arm64" >&2; exit 2 ;; esac

log() { echo "setup.sh: $*" >&2; }

need=()
command -v cpio >/dev/null || need+=(cpio)
if [ $ARCH = amd64 ]; then
  command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
  # a static busybox (Debian's busybox package is dynamic; busybox-static replaces it)
  [ -x /bin/busybox ] && [[ "$(ldd /bin/busybox 2>&1 || true)" == *"not a dynamic"* ]] || need+=(busybox-static)
else
  command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
fi
updated=0
if [ $ARCH = arm64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  log "adding the arm64 architecture to dpkg (for apt-get download of arm64 packages)"
  dpkg --add-architecture arm64
  apt-get update -qq && updated=1
fi
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq && updated=1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# The versioned kernel package behind the linux-image-ARCH metapackage.
resolve() { apt-cache depends "linux-image-$ARCH:$ARCH" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*\).*$/\1/p' | head -n1; }
if [ -z "$KPKG" ]; then
  KPKG=$(resolve)
  if [ -z "$KPKG" ] && [ $updated = 0 ]; then apt-get update -qq; KPKG=$(resolve); fi
  [ -n "$KPKG" ] || { log "cannot resolve linux-image-$ARCH's kernel package"; exit 1; }
fi
[ $ARCH = amd64 ] || KPKG=${KPKG%:$ARCH}:$ARCH
dest="$CACHE/${KPKG%:*}"
if ! ls "$dest"/boot/vmlinuz-* >/dev/null 2>&1; then
  log "downloading and unpacking $KPKG into $dest"
  tmp=$(mktemp -d); chmod 755 "$tmp"  # readable by _apt, which downloads
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -qq "$KPKG" >&2)
  rm -rf "$dest.part" && mkdir -p "$dest.part"
  dpkg-deb -x "$tmp"/*.deb "$dest.part"
  # Keep /boot (vmlinuz, config, System.map); the modules are not needed (initramfs only, and
  # everything the harness uses is built in: 8250 serial, devtmpfs, user namespaces).
  rm -rf "$dest.part/lib" "$dest.part/usr"
  rm -rf "$dest" && mv "$dest.part" "$dest"
fi

# arm64: busybox-static and nodejs with the shared libraries node needs, unpacked into one
# sysroot, and the JavaScript modules Debian's node loads from /usr/share/nodejs instead of
# carrying them (acorn, cjs-module-lexer, undici and theirs; architecture all). The library
# packages are named here (apt-cache depends nodejs:arm64) and checked against the ELF files
# themselves: node's NEEDED entries and theirs, found in the sysroot (ldd cannot run arm64
# programs here).
if [ $ARCH = arm64 ]; then
  SYSROOT="$CACHE/arm64-sysroot"
  pkgs=(busybox-static nodejs libnode108 libc6 libgcc-s1 libstdc++6 libuv1 libssl3 libicu72
        libc-ares2 libnghttp2-14 libbrotli1 zlib1g)
  jspkgs=(node-acorn node-cjs-module-lexer node-undici node-busboy node-xtend)
  if [ ! -x "$SYSROOT/usr/bin/node" ] || [ ! -x "$SYSROOT/bin/busybox" ] \
     || [ ! -f "$SYSROOT/usr/share/nodejs/cjs-module-lexer/lexer.js" ]; then
    log "downloading and unpacking ${pkgs[*]} (arm64) ${jspkgs[*]} (all) into $SYSROOT"
    tmp2=$(mktemp -d); chmod 755 "$tmp2"
    (cd "$tmp2" && apt-get download -qq "${pkgs[@]/%/:arm64}" "${jspkgs[@]}" >&2)
    rm -rf "$SYSROOT.part" && mkdir -p "$SYSROOT.part"
    for deb in "$tmp2"/*.deb; do dpkg-deb -x "$deb" "$SYSROOT.part"; done
    rm -rf "$tmp2" "$SYSROOT.part/usr/share/doc" "$SYSROOT.part/usr/share/man"
    rm -rf "$SYSROOT" && mv "$SYSROOT.part" "$SYSROOT"
  fi
  # the closure check: every NEEDED library of node and its libraries, found in the sysroot
  missing=$(
    seen=" "; todo=("$SYSROOT/usr/bin/node")
    while [ ${#todo[@]} -gt 0 ]; do
      f=${todo[0]}; todo=("${todo[@]:1}")
      for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [[ "$seen" == *" $lib "* ]] && continue
        seen+="$lib "
        p=$(ls "$SYSROOT"/{lib,usr/lib}/aarch64-linux-gnu/"$lib" 2>/dev/null | head -n1 || true)
        if [ -n "$p" ]; then todo+=("$p"); else echo "$lib"; fi
      done
    done)
  [ -z "$missing" ] || { log "libraries node needs that are not in the sysroot: $missing"; exit 1; }
fi
ls "$dest"/boot/vmlinuz-* | sort -V | tail -n1
