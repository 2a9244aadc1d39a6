#!/usr/bin/env bash
# `make install` into a staging root: the module lands under the kernel release it was built
# for and depmod indexes it, the scripts and `tempesta-rs check` are installed and work, the
# example configuration is installed once and never overwritten.
set -euo pipefail
cd "$(dirname "$0")/../.."
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "install: FAILED: $*"; exit 1; }
make --no-print-directory install DESTDIR="$t" PREFIX=/usr >"$t.log" 2>&1 || { cat "$t.log"; fail "make install"; }
kver=$(modinfo -F vermagic tempesta_fw.ko | cut -d' ' -f1)
test -f "$t/lib/modules/$kver/extra/tempesta_fw.ko" || fail "module not installed for $kver"
grep -q "extra/tempesta_fw.ko" "$t/lib/modules/$kver/modules.dep" || fail "depmod did not index it"
for f in usr/sbin/tempesta.sh usr/sbin/tempesta-exporter usr/bin/tempesta-rs; do
  test -x "$t/$f" || fail "$f missing or not executable"
done
"$t/usr/bin/tempesta-rs" check "$t/etc/tempesta/tempesta_fw.conf" >/dev/null || fail "installed config does not check"
"$t/usr/sbin/tempesta-exporter" --proc "$t/nonexistent" --once | grep -q "^tempesta_up 0$" || fail "exporter"
echo "# mine" >"$t/etc/tempesta/tempesta_fw.conf"
make --no-print-directory install DESTDIR="$t" PREFIX=/usr >/dev/null 2>&1 || fail "second make install"
grep -q "^# mine$" "$t/etc/tempesta/tempesta_fw.conf" || fail "an existing configuration was overwritten"
rm -f "$t.log"
echo "install: OK ($kver)"
