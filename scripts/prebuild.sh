#!/usr/bin/env bash
# Builds the prebuilt addons that `npm pack` ships: prebuilds/linux-x64 (this machine's g++) and
# prebuilds/linux-arm64 (cross-built with Debian's g++-aarch64-linux-gnu), each tagged with its
# libc (cr-creds.glibc.node: node-gyp-build loads it on glibc only). Each is built in a copy of
# the sources, so build/ (the addon the tests load) is left as it is.
#
#   npm run prebuilds              # both (npm puts its node-gyp on PATH)
#   npm run prebuilds -- arm64     # one
#
# Prints, per prebuild, the highest GLIBC_ symbol version it needs (its glibc floor).
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=$PWD
# npm puts its node-gyp on PATH; run through npm once, not again from within it.
if ! command -v node-gyp >/dev/null; then
  [ -z "${npm_lifecycle_event:-}" ] || { echo "prebuild.sh: node-gyp not found on npm's PATH" >&2; exit 2; }
  exec npm run --silent prebuilds -- "$@"
fi
# node-gyp's headers: the installed Node's, never a download (nor a devdir in /tmp). npm's nodedir
# setting when one is set ('undefined' when not), else the prefix of the node that runs this.
nodedir=${npm_config_nodedir:-}
case "$nodedir" in ''|undefined|null) nodedir=$(node -p 'require("path").resolve(process.execPath, "../..")') ;; esac
[ -f "$nodedir/include/node/node_api.h" ] || { echo "prebuild.sh: no Node headers in $nodedir/include/node (set npm's nodedir)" >&2; exit 2; }
export npm_config_nodedir=$nodedir
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x64 arm64)

for arch in "${archs[@]}"; do
  case "$arch" in
    x64) tool= ;;
    arm64) tool=aarch64-linux-gnu- ;;
    *) echo "prebuild.sh: x64 or arm64, not $arch" >&2; exit 2 ;;
  esac
  command -v "${tool}g++" >/dev/null || { echo "prebuild.sh: ${tool}g++ missing (apt-get install g++-aarch64-linux-gnu)" >&2; exit 2; }
  src=$(mktemp -d)
  trap 'rm -rf "$src"' EXIT
  cp -r binding.gyp package.json native "$src/"
  ln -s "$PKG/node_modules" "$src/node_modules"
  rm -rf "prebuilds/linux-$arch"
  # No -static-libstdc++: the static C++ runtime of this toolchain needs a newer glibc
  # (arc4random, _dl_find_object) than the addon's own code does.
  (cd "$src" && CC=${tool}gcc CXX=${tool}g++ LINK=${tool}g++ JOBS=max \
     "$PKG/node_modules/.bin/prebuildify" --napi --strip --strip-bin "${tool}strip" --tag-libc \
       --arch "$arch" --target "node@$(node -p process.versions.node)" --out "$PKG" >/dev/null)
  rm -rf "$src"
  trap - EXIT
  for f in prebuilds/linux-"$arch"/*.node; do
    floor=$(${tool}objdump -T "$f" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -V | tail -n1)
    cxx=$(${tool}objdump -T "$f" | grep -o 'GLIBCXX_[0-9][0-9.]*' | sort -V | tail -n1)
    echo "$f: glibc >= ${floor#GLIBC_}, libstdc++ >= ${cxx#GLIBCXX_}"
  done
done
