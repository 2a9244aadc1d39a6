#!/usr/bin/env bash
# Inside the VM: bring up loopback, load tempesta_fw.ko, start it with the given configuration.
#   vm-start.sh MODULE CONFIG     (or TFW_MODULE / TFW_CFG in the environment, then exec a shell)
set -eu
module=${1:-${TFW_MODULE:?}}
cfg=${2:-${TFW_CFG:?}}
ip link set lo up
insmod "$module" tfw_cfg_path="$cfg"
sysctl -w net.tempesta.state=start >/dev/null
echo "tempesta-rs started: $(cat /proc/tempesta/state), configuration $cfg"
if [ $# -eq 0 ]; then
  echo "try: cat /proc/tempesta/state; sysctl net.tempesta.state; dmesg | tail"
  exec bash -i
fi
