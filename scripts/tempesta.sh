#!/usr/bin/env bash
# tempesta-rs control script, with Tempesta FW's interface:
#
#   tempesta.sh start|stop|restart|reload|status|check|load|unload   (also --start, ...)
#
# Environment:
#   TFW_CFG_PATH   configuration (default /etc/tempesta/tempesta_fw.conf)
#   TFW_MODULE     module file (default: tempesta_fw.ko next to this script's checkout, else
#                  the installed module via modprobe)
#   TFW_NO_TUNE=1  do not apply Tempesta's network sysctl tuning on start
#   TFW_RUN_DIR    runtime directory: lock file, configuration with !include expanded
#                  (default /run/tempesta)
#
# Exit codes: 0 done; 1 the module refused the configuration or the state change (its
# message is printed); 2 usage; 3 status: not running; 4 the module could not be loaded;
# 5 another tempesta.sh is running.
set -uo pipefail

top=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cfg=${TFW_CFG_PATH:-/etc/tempesta/tempesta_fw.conf}
run_dir=${TFW_RUN_DIR:-/run/tempesta}
state=/proc/sys/net/tempesta/state
param=/sys/module/tempesta_fw/parameters/tfw_cfg_path

say() { echo "tempesta.sh: $*"; }
err() { echo "tempesta.sh: $*" >&2; }

loaded() { [ -d /sys/module/tempesta_fw ]; }

# Kernel log lines of the module since mark_log.
mark_log() { log_mark=$(dmesg 2>/dev/null | wc -l); }
new_log() { dmesg 2>/dev/null | tail -n +"$((log_mark + 1))" | grep 'tempesta_fw:' >&2; }

# Writes the configuration the module reads: $cfg itself, or, when it has !include lines, a
# copy with every include expanded (a file, or every file of a directory in name order) at
# $1. Prints the path to use.
expand() {
  local out=$1
  if ! grep -qE '^[[:space:]]*!include[[:space:]]' "$cfg"; then
    echo "$cfg"
    return 0
  fi
  mkdir -p "$(dirname "$out")" || return 1
  python3 - "$cfg" "$out" <<'PY' || return 1
import os, re, sys

def expand(path, out, depth=0):
    if depth > 8:
        sys.exit(f"tempesta.sh: {path}: !include nested too deeply")
    with open(path) as f:
        for n, line in enumerate(f, 1):
            m = re.match(r"\s*!include\s+(\S+?)\s*;?\s*(#.*)?$", line)
            if not m:
                out.write(line)
                continue
            target = m.group(1)
            if not os.path.isabs(target):
                target = os.path.join(os.path.dirname(path), target)
            if os.path.isdir(target):
                files = sorted(os.path.join(target, e) for e in os.listdir(target)
                               if os.path.isfile(os.path.join(target, e)))
            elif os.path.isfile(target):
                files = [target]
            else:
                sys.exit(f"tempesta.sh: {path}:{n}: !include {m.group(1)}: no such file or directory")
            for t in files:
                out.write(f"# {t} (included from {path}:{n})\n")
                expand(t, out, depth + 1)
                out.write("\n")

with open(sys.argv[2] + ".tmp", "w") as out:
    expand(sys.argv[1], out)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
PY
  echo "$out"
}

tune() {
  [ "${TFW_NO_TUNE:-0}" = 1 ] && return 0
  local kv
  # The values Tempesta FW's tempesta.sh sets; and tcp_fwmark_accept, so that an accepted
  # connection carries its SYN's netfilter mark (whitelist_mark, http_chain 'mark ==').
  for kv in net.ipv4.tcp_autocorking=0 net.core.netdev_max_backlog=10000 \
    net.core.somaxconn=131072 net.ipv4.tcp_max_syn_backlog=131072 \
    net.ipv4.tcp_orphan_retries=3 net.ipv4.tcp_retries2=8 net.ipv4.tcp_fin_timeout=10 \
    net.ipv4.tcp_fwmark_accept=1; do
    if sysctl -q -w "$kv" >/dev/null 2>&1; then
      say "sysctl $kv"
    else
      say "sysctl $kv: not available here, skipped"
    fi
  done
}

module_file() {
  if [ -n "${TFW_MODULE:-}" ]; then
    echo "$TFW_MODULE"
  elif [ -e "$top/tempesta_fw.ko" ]; then
    readlink -f "$top/tempesta_fw.ko"
  fi
}

load() {
  loaded && return 0
  [ -r "$cfg" ] || { err "cannot read $cfg"; return 4; }
  local path mod
  path=$(expand "$run_dir/tempesta_fw.conf") || return 1
  mod=$(module_file)
  mark_log
  if [ -n "$mod" ]; then
    insmod "$mod" tfw_cfg_path="$path" || { new_log; err "cannot load $mod"; return 4; }
  else
    modprobe tempesta_fw tfw_cfg_path="$path" || { new_log; err "cannot load tempesta_fw"; return 4; }
  fi
}

# Writes a command to net.tempesta.state in one write(2), as the module expects.
set_state() {
  mark_log
  if ! (printf '%s\n' "$1" > "$state") 2>/dev/null; then
    new_log
    return 1
  fi
}

start() {
  local was_loaded=0
  loaded && was_loaded=1
  load || return $?
  # The module reads the path it was loaded with; refresh its expanded copy.
  local path
  path=$(cat "$param" 2>/dev/null || echo "$cfg")
  if [ "$path" != "$cfg" ]; then
    expand "$path" >/dev/null || return 1
  fi
  tune
  if ! set_state start; then
    # A start that loaded the module and failed leaves the system as it found it.
    [ "$was_loaded" = 1 ] || rmmod tempesta_fw 2>/dev/null
    err "start failed: the configuration was refused (see above)"
    return 1
  fi
  say "started: $(cat "$state"), configuration $cfg"
}

stop() {
  if loaded; then
    set_state stop || return 1
    rmmod tempesta_fw || return 1
  fi
  say "stopped"
}

reload() {
  loaded || { err "not loaded: nothing to reload (use start)"; return 1; }
  local path
  path=$(cat "$param" 2>/dev/null || echo "$cfg")
  if [ "$path" != "$cfg" ]; then
    expand "$path" >/dev/null || return 1
  fi
  if ! set_state start; then
    err "reload failed: the running configuration is kept ($(cat "$state"))"
    return 1
  fi
  say "reloaded: $(cat "$state")"
}

status() {
  if ! loaded; then
    say "not loaded"
    return 3
  fi
  local s
  s=$(cat "$state")
  say "$s"
  case "$s" in start*) return 0 ;; *) return 3 ;; esac
}

check() {
  local path
  path=$(expand "$run_dir/check.conf") || return 1
  if command -v tempesta-rs >/dev/null; then
    tempesta-rs check "$path"
  else
    (cd "$top" && cargo run -q -p tempesta-config --bin tempesta-rs -- check "$path")
  fi
}

cmd=${1:-}
cmd=${cmd#--}
case "$cmd" in
  start | stop | restart | reload | status | check | load | unload) ;;
  *)
    echo "usage: tempesta.sh start|stop|restart|reload|status|check|load|unload" >&2
    exit 2
    ;;
esac

mkdir -p "$run_dir" 2>/dev/null || { run_dir=/tmp/tempesta; mkdir -p "$run_dir"; }
exec 9>"$run_dir/lock"
if ! flock -n 9; then
  err "another tempesta.sh is running"
  exit 5
fi

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  reload) reload ;;
  status) status ;;
  check) check ;;
  load) load ;;
  unload) if loaded; then rmmod tempesta_fw; fi ;;
esac
