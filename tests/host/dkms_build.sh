#!/usr/bin/env bash
# Builds the module the way DKMS does: the sources `make dkms` installs, dkms.conf's MAKE line,
# against the test kernel tree, with root's PATH order (the distribution's rustc first). Proves
# dkms.conf and `make dkms` stay in step with the build (a missing source file fails here).
set -euo pipefail
cd "$(dirname "$0")/../.."
kdir=$(scripts/kernel.sh debug)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
make --no-print-directory dkms DESTDIR="$t/root" >/dev/null
# shellcheck disable=SC1091
PACKAGE_VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
build="$t/tree/tempesta-rs/$PACKAGE_VERSION/build"
mkdir -p "$(dirname "$build")"
cp -a "$t/root/usr/src/tempesta-rs-$PACKAGE_VERSION" "$build"
kernel_source_dir=$kdir
dkms_tree=$t/tree
# shellcheck disable=SC1091
source dkms.conf
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$HOME/.cargo/bin bash -c "${MAKE[0]}" >"$t/log" 2>&1 || {
  tail -30 "$t/log"; echo "dkms build: FAILED"; exit 1; }
test -f "$build/${BUILT_MODULE_NAME[0]}.ko"
echo "dkms build: OK ($(modinfo -F vermagic "$build/tempesta_fw.ko" | cut -d' ' -f1))"
