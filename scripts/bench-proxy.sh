#!/usr/bin/env bash
# Inside the release VM (make bench): wrk against tempesta-rs and against nginx proxy_pass and
# HAProxy in front of the same upstream, one after the other in the same guest, plus the
# upstream alone for reference. Prints a Markdown table with ratios to tempesta-rs for each of
# two upstreams on 127.0.0.1:8000: the demo nginx serving a static file, then
# scripts/bench/origin.c serving the same bytes at next to no cost.
#
# The guest was started by vm-start.sh: demo nginx upstream on 127.0.0.1:8000, tempesta-rs on
# port 80 proxying to it (etc/tempesta_fw.conf, conns_n=8).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dur=${BENCH_SECONDS:-20}
conns=${BENCH_CONNS:-16}
tmp=/tmp/tfw-bench
mkdir -p "$tmp/nginx/tmp"

# nginx as a reverse proxy with a keep-alive upstream pool, as a production setup would.
cat > "$tmp/nginx/nginx.conf" <<NGX
worker_processes 1;
pid nginx.pid;
error_log stderr;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path tmp;
    proxy_temp_path tmp;
    fastcgi_temp_path tmp;
    uwsgi_temp_path tmp;
    scgi_temp_path tmp;
    keepalive_requests 1000000;
    upstream up { server 127.0.0.1:8000; keepalive 32; }
    server {
        listen 127.0.0.1:8081;
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_max_temp_file_size 0;
        }
    }
}
NGX
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e stderr

cat > "$tmp/haproxy.cfg" <<HAP
global
    maxconn 4096
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
    option forwardfor
    http-reuse always
frontend f
    bind 127.0.0.1:8082
    default_backend b
backend b
    server s1 127.0.0.1:8000
HAP
haproxy -D -f "$tmp/haproxy.cfg" -p "$tmp/haproxy.pid"
sleep 1

run() { # name url -> "rps p99_ms"
  local out rps p99
  out=$(wrk -t1 -c"$conns" -d"${dur}s" --latency "$2" 2>&1)
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$out")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  echo "${rps:-0} ${p99:-0} ${errs}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# What a proxy adds to a request, in ms: 1/rps through it minus 1/rps of the upstream alone.
# On a CPU-bound guest (make bench-proxy uses one vCPU) this is the proxy's CPU per request.
added() { awk -v p="$1" -v u="$2" 'BEGIN { if (p > 0 && u > 0) printf "%.3f", 1000 / p - 1000 / u; else print "n/a" }'; }

# One round: warm every path, wrk against each proxy and the upstream alone, one table.
round() { # title
  for u in http://127.0.0.1:80/ http://127.0.0.1:8081/ http://127.0.0.1:8082/ http://127.0.0.1:8000/; do
    wrk -t1 -c8 -d2s "$u" >/dev/null 2>&1 || true
  done
  read -r t_rps t_p99 t_err <<<"$(run tempesta http://127.0.0.1:80/)"
  read -r n_rps n_p99 n_err <<<"$(run nginx http://127.0.0.1:8081/)"
  read -r h_rps h_p99 h_err <<<"$(run haproxy http://127.0.0.1:8082/)"
  read -r u_rps u_p99 u_err <<<"$(run upstream http://127.0.0.1:8000/)"
  echo
  echo "$1: wrk -t1 -c$conns -d${dur}s --latency, GET / (${size_label:-$(stat -c %s "$top/etc/demo/index.html") bytes}) through each proxy to the same upstream"
  echo
  t_add=$(added "$t_rps" "$u_rps"); n_add=$(added "$n_rps" "$u_rps"); h_add=$(added "$h_rps" "$u_rps")
  echo "| target | requests/s | p99 ms | tempesta-rs rps / peer rps | peer p99 / tempesta-rs p99 | ms added per request | peer added / tempesta-rs added | errors |"
  echo "|---|---|---|---|---|---|---|---|"
  echo "| tempesta-rs (kernel) | $t_rps | $t_p99 | 1.00 | 1.00 | $t_add | 1.00 | ${t_err:-} |"
  echo "| nginx proxy_pass | $n_rps | $n_p99 | $(ratio "$t_rps" "$n_rps") | $(ratio "$n_p99" "$t_p99") | $n_add | $(ratio "$n_add" "$t_add") | ${n_err:-} |"
  echo "| HAProxy | $h_rps | $h_p99 | $(ratio "$t_rps" "$h_rps") | $(ratio "$h_p99" "$t_p99") | $h_add | $(ratio "$h_add" "$t_add") | ${h_err:-} |"
  echo "| upstream alone (reference) | $u_rps | $u_p99 | $(ratio "$t_rps" "$u_rps") | $(ratio "$u_p99" "$t_p99") | 0 | | ${u_err:-} |"
}

# Round 1: the demo nginx serving etc/demo/index.html is the upstream.
round "Upstream nginx (static file)"

# Round 2: the same bytes from scripts/bench/origin.c, an upstream that costs next to nothing,
# so that the figures are the proxies' own cost (nginx serving a file costs about as much as
# proxying it, which caps every proxy's ratio in round 1). Every proxy reconnects to it.
gcc -O2 -o "$tmp/origin" "$top/scripts/bench/origin.c"
# Starts origin.c on 127.0.0.1:8000 serving FILE ($origin: its pid), and waits until
# tempesta-rs's upstream connections have reconnected to it.
serve_origin() { # file
  "$tmp/origin" 8000 "$1" &
  origin=$!
  for _ in $(seq 30); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:80/)" = 200 ] && break
    sleep 1
  done
}
kill "$(cat /tmp/tfw-demo-nginx/nginx.pid)"
sleep 1
serve_origin "$top/etc/demo/index.html"
round "Upstream scripts/bench/origin.c (same bytes)"
kill "$origin"

# Round 3: a 1 MiB response from the same origin: what the proxies pay per body byte
# (tempesta-rs splices body runs from socket to socket; nginx and HAProxy copy through
# their buffers).
head -c 1048576 /dev/urandom > "$tmp/1m.bin"
sleep 1
serve_origin "$tmp/1m.bin"
size_label="1 MiB"
round "Upstream scripts/bench/origin.c, 1 MiB response"
kill "$origin"
echo
cat /proc/tempesta/perfstat
