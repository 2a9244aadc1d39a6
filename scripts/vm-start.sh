#!/usr/bin/env bash
# Inside the VM: bring up loopback, load tempesta_fw.ko and start it with the configuration.
#   vm-start.sh MODULE CONFIG   start, exit non-zero on failure (`make run CMD=...`)
#   vm-start.sh                 with TFW_MODULE / TFW_CFG set: start, then an interactive shell
#                               (also when starting failed, to look at dmesg)
set -u
module=${1:-${TFW_MODULE:?}}
cfg=${2:-${TFW_CFG:?}}

top=$(cd "$(dirname "$0")/.." && pwd)

# The demo upstream the configuration proxies to (nginx on 127.0.0.1:8000).
demo_upstream() {
  command -v nginx >/dev/null || { echo "tempesta-rs: nginx missing, no demo upstream" >&2; return 0; }
  local p=/tmp/tfw-demo-nginx
  mkdir -p "$p/tmp"
  sed "s|@ROOT@|$top/etc/demo|" "$top/etc/demo-nginx.conf" > "$p/nginx.conf"
  nginx -p "$p" -c "$p/nginx.conf" -e stderr
}

start() {
  ip link set lo up &&
    demo_upstream &&
    insmod "$module" tfw_cfg_path="$cfg" &&
    sysctl -q -w net.tempesta.state=start &&
    echo "tempesta-rs: $(cat /proc/tempesta/state), configuration $cfg"
}

if [ $# -gt 0 ]; then
  start || { echo "tempesta-rs: failed to start; kernel log:" >&2; dmesg | tail -5 >&2; exit 1; }
  exit 0
fi
start || { echo "tempesta-rs: failed to start; kernel log:"; dmesg | tail -5; }
echo "try: curl -i http://127.0.0.1/; cat /proc/tempesta/perfstat; dmesg | tail; poweroff to leave"
exec bash -i
