#!/usr/bin/env bash
# Inside the release VM (make bench-cache, part of make bench): cache hits. wrk on a cached
# 1 KiB and a cached 64 KiB object through tempesta-rs, nginx proxy_cache and Varnish, one
# after the other in the same guest, all in front of the same origin (an nginx on 8001 serving
# the files with Cache-Control: max-age=3600). Every cache is warmed first, so each run is
# hits only. Prints a Markdown table with tempesta-rs's ratios to the others.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dur=${BENCH_SECONDS:-15}
conns=${BENCH_CONNS:-32}
tmp=/tmp/tfw-bench-cache
rm -rf "$tmp"
mkdir -p "$tmp/www" "$tmp/nginx/tmp" "$tmp/nginx/cache" "$tmp/varnish"
module=$(readlink -f "$top/tempesta_fw.ko")
head -c 768 /dev/urandom | base64 -w 0 > "$tmp/www/1k"  # 1024 bytes (no head after base64: SIGPIPE under pipefail)
head -c 49152 /dev/urandom | base64 -w 0 > "$tmp/www/64k"

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
    # The origin.
    server {
        listen 127.0.0.1:8001;
        root $tmp/www;
        add_header Cache-Control "max-age=3600";
    }
    # nginx as a cache in front of it.
    proxy_cache_path $tmp/nginx/cache keys_zone=c:10m max_size=64m;
    upstream origin { server 127.0.0.1:8001; keepalive 32; }
    server {
        listen 127.0.0.1:8081;
        location / {
            proxy_cache c;
            proxy_cache_valid 200 1h;
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
NGX
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e stderr

varnishd -j none -a 127.0.0.1:8082 -b 127.0.0.1:8001 -n "$tmp/varnish" -s malloc,64m \
  -p thread_pools=1 >/dev/null

cat > "$tmp/tempesta_fw.conf" <<EOF
listen 80;
server 127.0.0.1:8001 conns_n=8;
cache 2;
cache_fulfill * *;
cache_size 64M;
EOF
sysctl -q -w net.tempesta.state=stop || true
rmmod tempesta_fw 2>/dev/null || true
insmod "$module" tfw_cfg_path="$tmp/tempesta_fw.conf"
sysctl -q -w net.tempesta.state=start
sleep 2

run() { # url -> "rps p99_ms errors"
  local out rps p99 errs
  out=$(wrk -t1 -c"$conns" -d"${dur}s" --latency "$1" 2>&1)
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$out")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  echo "${rps:-0} ${p99:-0} ${errs}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

for port in 80 8081 8082; do
  for obj in 1k 64k; do
    curl -s -o /dev/null "http://127.0.0.1:$port/$obj"
    curl -s -o /dev/null "http://127.0.0.1:$port/$obj"
  done
done
before=$(awk -F: '/^Cache hits/ {print $2+0}' /proc/tempesta/perfstat)

echo
echo "wrk -t1 -c$conns -d${dur}s --latency, cached objects (warmed), one vCPU guest"
echo
echo "| object | tempesta-rs rps | p99 ms | nginx proxy_cache rps | p99 ms | Varnish rps | p99 ms | tempesta/nginx | tempesta/Varnish |"
echo "|---|---|---|---|---|---|---|---|---|"
for obj in 1k 64k; do
  read -r t_rps t_p99 t_err <<<"$(run "http://127.0.0.1:80/$obj")"
  read -r n_rps n_p99 n_err <<<"$(run "http://127.0.0.1:8081/$obj")"
  read -r v_rps v_p99 v_err <<<"$(run "http://127.0.0.1:8082/$obj")"
  echo "| $obj | $t_rps | $t_p99 | $n_rps | $n_p99 | $v_rps | $v_p99 | $(ratio "$t_rps" "$n_rps") | $(ratio "$t_rps" "$v_rps") |"
  for e in "$t_err" "$n_err" "$v_err"; do
    [ -z "$e" ] || echo "  errors: $e"
  done
done
after=$(awk -F: '/^Cache hits/ {print $2+0}' /proc/tempesta/perfstat)
echo
echo "tempesta-rs cache hits during the runs: $((after - before)); perfstat:"
grep -E '^(Cache|Client messages (received|forwarded|served))' /proc/tempesta/perfstat
