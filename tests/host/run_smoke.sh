#!/usr/bin/env bash
# Inside the release VM that `make run` booted (make test-run): the module started with
# etc/tempesta_fw.conf, the demo page comes back through it, perfstat counts it, and the
# kernel log has no warning, oops or BUG.
set -u
fail() { echo "run smoke: FAILED: $*"; dmesg | tail -30; exit 1; }
[ "$(cat /proc/tempesta/state)" = start ] || fail "state is $(cat /proc/tempesta/state)"
for i in 1 2 3; do
  out=$(curl -s -m 10 -w '\n%{http_code}' -H 'Host: example.com' http://127.0.0.1/) || fail "curl #$i"
  [ "${out##*$'\n'}" = 200 ] || fail "curl #$i: status ${out##*$'\n'}"
done
grep -q "tempesta-rs" <<<"$out" || fail "not the demo page: ${out:0:200}"
awk -F: '/^Client messages received/ { exit !($2 + 0 >= 3) }' /proc/tempesta/perfstat ||
  fail "perfstat: $(grep -i 'messages received' /proc/tempesta/perfstat)"
sysctl -q -w net.tempesta.state=stop || fail "stop"
rmmod tempesta_fw || fail "rmmod"
if dmesg | grep -E "BUG:|WARNING:|Oops|stack guard|general protection|Call Trace" >/dev/null; then
  fail "kernel log"
fi
echo "run smoke: OK (release kernel: started, 3 requests served, stopped, unloaded)"
