#!/usr/bin/env bash
# Inside the release VM (make bench-firewall, part of make bench): the firewall's two goals.
#
# 1. Legitimate traffic under a flood: wrk (8 keep-alive connections from 127.0.0.1: at most 8
#    requests in flight, under the burst limit) alone, then while scripts/bench/flood.c sends
#    requests from 2 other addresses, 64 connections each that all send at once and reconnect
#    as soon as they are answered or refused: bursts far over request_burst. (Under emulation a
#    flood generator sharing the one vCPU cannot exceed a per-second rate that legitimate wrk
#    does not also reach, so the limit that separates them is the burst, as in production.)
#    The same for nginx with limit_req at the same rate, in front of the same upstream
#    (limit_req_status 444: close without a response, nginx's closest to `attack drop`).
#    Reported: legitimate requests/s under the flood as a fraction of the unloaded figure.
# 2. The cost of dropping a blocked address's packets: scripts/bench/synsend.c sends SYNs from
#    an address ip_block has blocked, then from one an nftables rule drops at PRE_ROUTING
#    (priority raw), and, for reference, from one nothing drops (the SYN reaches the listener).
#    Reported: nanoseconds per packet (sender's system call, which on loopback includes the
#    receive path) and the ratio ip_block / nftables.
#
# The guest was started by vm-start.sh: demo nginx upstream on 127.0.0.1:8000.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dur=${BENCH_SECONDS:-20}
tmp=/tmp/tfw-bench-fw
mkdir -p "$tmp/nginx/tmp"
module=$(readlink -f "$top/tempesta_fw.ko")
gcc -O2 -o "$tmp/flood" "$top/scripts/bench/flood.c"
gcc -O2 -o "$tmp/synsend" "$top/scripts/bench/synsend.c"
flooders="127.0.0.2 127.0.0.3"

restart() { # config file
  sysctl -q -w net.tempesta.state=stop || true
  rmmod tempesta_fw 2>/dev/null || true
  insmod "$module" tfw_cfg_path="$1"
  sysctl -q -w net.tempesta.state=start
  sleep 2
}

cat > "$tmp/flood.conf" <<EOF
listen 80;
server 127.0.0.1:8000 conns_n=8;
block_action attack drop;
frang_limits {
    request_rate 10000;
    request_burst 24;
}
EOF
restart "$tmp/flood.conf"

cat > "$tmp/nginx/nginx.conf" <<NGX
worker_processes 1;
pid nginx.pid;
error_log stderr crit;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path tmp;
    proxy_temp_path tmp;
    fastcgi_temp_path tmp;
    uwsgi_temp_path tmp;
    scgi_temp_path tmp;
    keepalive_requests 1000000;
    limit_req_zone \$binary_remote_addr zone=perip:10m rate=192r/s;
    upstream up { server 127.0.0.1:8000; keepalive 32; }
    server {
        listen 127.0.0.1:8081;
        location / {
            limit_req zone=perip burst=24 nodelay;
            limit_req_status 444;
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
NGX
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e stderr

legit() { # url -> requests/s
  wrk -t1 -c8 -d"${dur}s" -H 'Host: bench.example' "$1" 2>&1 | awk '/^Requests\/sec/ {print $2}'
}

flooded() { # port url -> "rps flood-line"
  "$tmp/flood" $((dur + 2)) "$1" 64 $flooders > "$tmp/flood.out" &
  local f=$! r
  sleep 1
  r=$(legit "$2")
  wait $f
  echo "$r $(cat "$tmp/flood.out")"
}

for u in http://127.0.0.1:80/ http://127.0.0.1:8081/; do
  wrk -t1 -c8 -d2s "$u" >/dev/null 2>&1 || true
done
t0=$(legit http://127.0.0.1:80/)
read -r t1 t_flood <<<"$(flooded 80 http://127.0.0.1:80/)"
t_filtered=$(awk -F: '/Client messages filtered out/ {gsub(/ /,"",$2); print $2}' /proc/tempesta/perfstat)
t_blocked=$(awk -F: '/Client connections blocked/ {gsub(/ /,"",$2); print $2}' /proc/tempesta/perfstat)
n0=$(legit http://127.0.0.1:8081/)
read -r n1 n_flood <<<"$(flooded 8081 http://127.0.0.1:8081/)"
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -s stop || true

# The same limits with ip_block: an address that exceeds them is dropped at PRE_ROUTING for
# the next 60 s, so the flood's new connections hang in SYN_SENT instead of costing the proxy
# (and the shared CPU) a handshake and a refusal each. nginx has no built-in equivalent.
sed 's/^    request_burst 24;$/    request_burst 24;\n    ip_block 60;/' "$tmp/flood.conf" > "$tmp/flood-ipb.conf"
restart "$tmp/flood-ipb.conf"
wrk -t1 -c8 -d2s http://127.0.0.1:80/ >/dev/null 2>&1 || true
b0=$(legit http://127.0.0.1:80/)
read -r b1 b_flood <<<"$(flooded 80 http://127.0.0.1:80/)"
b_blocked=$(awk -F: '/Frang addresses blocked/ {gsub(/ /,"",$2); print $2}' /proc/tempesta/perfstat)
b_dropped=$(awk -F: '/Frang packets dropped/ {gsub(/ /,"",$2); print $2}' /proc/tempesta/perfstat)

frac() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
echo "## Legitimate requests/s under a request flood"
echo
echo "wrk -t1 -c8 -d${dur}s from 127.0.0.1; flood: 2 addresses x 64 connections, one request per"
echo "connection; request_burst 24 per 1/8 s (nginx: limit_req rate=192r/s burst=24 nodelay)"
echo
echo "| target | unloaded rps | rps under flood | fraction | flood (requests sent / answered / refused) |"
echo "|---|---|---|---|---|"
echo "| tempesta-rs (attack drop) | $t0 | $t1 | $(frac "$t1" "$t0") | $t_flood |"
echo "| nginx limit_req (444) | $n0 | $n1 | $(frac "$n1" "$n0") | $n_flood |"
echo "| tempesta-rs (attack drop, ip_block 60) | $b0 | $b1 | $(frac "$b1" "$b0") | $b_flood |"
echo
echo "tempesta-rs perfstat after its run: Client messages filtered out $t_filtered, Client connections blocked $t_blocked"
echo "with ip_block: Frang addresses blocked $b_blocked, Frang packets dropped $b_dropped"

# --- 2. Drop cost ---
cat > "$tmp/block.conf" <<EOF
listen 80;
server 127.0.0.1:8000 conns_n=8;
block_action attack drop;
frang_limits {
    http_methods get head;
    ip_block 0;
}
EOF
restart "$tmp/block.conf"
# 127.0.0.5 sends a forbidden method: refused, and its address blocked until stop.
curl -s -m 5 --interface 127.0.0.5 -X DELETE -H 'Host: bench.example' http://127.0.0.1/ \
  >/dev/null 2>&1 || true
grep -q 'Frang addresses blocked\s*: 1' /proc/tempesta/perfstat ||
  { echo "bench-firewall: 127.0.0.5 was not blocked" >&2; cat /proc/tempesta/perfstat >&2; exit 1; }
nft -f - <<'NFT'
table ip tfwbench {
    chain pre {
        type filter hook prerouting priority -300;
        ip saddr 127.0.0.6 drop;
    }
}
NFT
n=${BENCH_PACKETS:-200000}
"$tmp/synsend" 127.0.0.5 80 20000 >/dev/null   # warm-up
ipb=() nftr=()
for r in 1 2 3; do
  ipb+=("$("$tmp/synsend" 127.0.0.5 80 "$n")")
  nftr+=("$("$tmp/synsend" 127.0.0.6 80 "$n")")
done
s_pass=$("$tmp/synsend" 127.0.0.8 9 "$n")
dropped=$(awk -F: '/Frang packets dropped/ {gsub(/ /,"",$2); print $2}' /proc/tempesta/perfstat)
nft delete table ip tfwbench
min() { printf '%s\n' "$@" | sort -n | head -1; }
ipb_min=$(min "${ipb[@]}"); nft_min=$(min "${nftr[@]}")
echo
echo "## Cost per dropped packet: ip_block against an nftables drop rule"
echo
echo "scripts/bench/synsend.c, $n SYNs per run over a raw socket to 127.0.0.1:80, three runs each"
echo "(interleaved); ns per packet = the sender's sendto(), which on loopback includes the receive"
echo "path; the ratio compares the fastest run of each (the least disturbed by the emulator)"
echo
echo "| path | ns per packet (runs) | fastest | relative to the nftables drop |"
echo "|---|---|---|---|"
echo "| ip_block (tempesta-rs netfilter hook, address blocked) | ${ipb[*]} | $ipb_min | $(frac "$ipb_min" "$nft_min") |"
echo "| nftables \`ip saddr ... drop\` at prerouting priority raw | ${nftr[*]} | $nft_min | 1.00 |"
echo "| not dropped: SYN to a closed port, answered with RST (reference) | $s_pass | $s_pass | $(frac "$s_pass" "$nft_min") |"
echo
echo "Frang packets dropped: $dropped (ip_block's runs: $((3 * n + 20000)) packets)"
