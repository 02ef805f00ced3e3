#!/usr/bin/env bash
# One-time setup for the QEMU harness (scripts/qemu/run.sh), as root on Debian 12:
#  - qemu-system-x86, cpio and busybox-static from apt (the guest's shell and tools are busybox);
#  - Debian's kernel (the package linux-image-amd64 depends on) downloaded with `apt-get download`
#    and unpacked with `dpkg-deb -x` into a cache directory: nothing goes to /boot, no
#    update-initramfs, no grub. The harness only needs the vmlinuz image.
#
#   scripts/qemu/setup.sh                 # packages + Debian's current kernel into the cache
#   scripts/qemu/setup.sh --kernel-pkg linux-image-6.1.0-56-amd64   # a given kernel package
#   CR_CREDS_QEMU_CACHE=/some/dir scripts/qemu/setup.sh
#
# Prints the path of the unpacked vmlinuz on its last line.
set -euo pipefail

CACHE=${CR_CREDS_QEMU_CACHE:-/var/cache/cr-creds-qemu}
KPKG=
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel-pkg) KPKG=$2; shift 2 ;;
    --kernel-pkg=*) KPKG=${1#*=}; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

log() { echo "setup.sh: $*" >&2; }

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
# a static busybox (Debian's busybox package is dynamic; busybox-static replaces it)
[ -x /bin/busybox ] && [[ "$(ldd /bin/busybox 2>&1 || true)" == *"not a dynamic"* ]] || need+=(busybox-static)
updated=0
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq && updated=1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# The versioned kernel package behind the linux-image-amd64 metapackage.
resolve() { apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1; }
if [ -z "$KPKG" ]; then
  KPKG=$(resolve)
  if [ -z "$KPKG" ] && [ $updated = 0 ]; then apt-get update -qq; KPKG=$(resolve); fi
  [ -n "$KPKG" ] || { log "cannot resolve linux-image-amd64's kernel package"; exit 1; }
fi
dest="$CACHE/$KPKG"
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
ls "$dest"/boot/vmlinuz-* | sort -V | tail -n1
