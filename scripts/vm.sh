#!/usr/bin/env bash
# Boot the test kernel in a VM (virtme-ng, TCG: KVM here is a nested PVM that hangs a stock
# kernel) with the host's root file system shared read-only, so the checkout, the built module
# and every installed tool are there.
#
#   vm.sh VARIANT run [--cmd CMD]   module loaded and started with etc/tempesta_fw.conf; then an
#                                   interactive shell, or CMD (exit code = CMD's)
#   vm.sh VARIANT test [TEST...]    the integration tests (tests/run_vm.py)
set -euo pipefail

variant=${1:?usage: vm.sh debug|release run|test ...}
mode=${2:?usage: vm.sh debug|release run|test ...}
shift 2
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=${KDIR:-$("$top/scripts/kernel.sh" "$variant")}
module=$top/tempesta_fw.ko
[ -e "$module" ] || { echo "vm.sh: $module missing: run make" >&2; exit 1; }
module=$(readlink -f "$module")
export PATH="$HOME/.cargo/bin:$PATH"

mem=${TFW_VM_MEMORY:-2G}
cpus=${TFW_VM_CPUS:-2}
vng_args=(--run "$kdir" --disable-kvm --cpus "$cpus" --memory "$mem" --cwd "$top")

case "$mode" in
  test)
    exec vng "${vng_args[@]}" --exec "python3 $top/tests/run_vm.py $module $*"
    ;;
  run)
    cmd=
    if [ "${1:-}" = --cmd ]; then cmd=${2:?--cmd needs a command}; fi
    init="$top/scripts/vm-start.sh $module $top/etc/tempesta_fw.conf"
    if [ -n "$cmd" ]; then
      exec vng "${vng_args[@]}" --exec "$init && $cmd"
    fi
    # Interactive: a wrapper runs as the guest's shell: it starts the module, then execs bash.
    # (The paths are written into it: the guest does not inherit this environment.)
    shell=$top/build/vm-shell.sh
    mkdir -p "$top/build"
    printf '#!/bin/sh\nTFW_MODULE=%s TFW_CFG=%s exec %s\n' "$module" \
      "$top/etc/tempesta_fw.conf" "$top/scripts/vm-start.sh" > "$shell"
    chmod +x "$shell"
    exec vng "${vng_args[@]}" --shell "$shell"
    ;;
  *) echo "vm.sh: unknown mode $mode" >&2; exit 2 ;;
esac
