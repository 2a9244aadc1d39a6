"""Bad configurations: each is rejected with -EINVAL and one log line naming file, line,
directive and reason, and the state is left as it was (stopped, or the old configuration still
running)."""
from tfw import ctl, insmod, listening_ports, start, state, write_cfg
from vmtest import KernelLog, expect, test

# (configuration, expected message after "config error: FILE:")
BAD = [
    ("listen 70000;\n", "1: directive 'listen': invalid port '70000'"),
    ("listen 0;\n", "1: directive 'listen': invalid port '0'"),
    ("listen 80\n", "1: directive 'listen': missing ';'"),
    ("listen 8080;\nlisten 0.0.0.0:8080;\n",
     "2: directive 'listen': duplicate listen address 0.0.0.0:8080"),
    ("listen 1.2.3.4.5:80;\n", "1: directive 'listen': invalid address '1.2.3.4.5:80'"),
    ("listen 8080 proto=https;\n",
     "1: directive 'listen': not supported by tempesta-rs yet: proto=https"),
    ("listen 8080 proto=ftp;\n", "1: directive 'listen': invalid proto 'ftp'"),
    ("listen 8080 backlog=5;\n", "1: directive 'listen': unknown option 'backlog'"),
    ("listen;\n", "1: directive 'listen': expected 1 argument, got 0"),
    ("listen 1 2;\n", "1: directive 'listen': expected 1 argument, got 2"),
    ("listen 8080;\nfoo_bar 1;\n", "2: directive 'foo_bar': unknown directive"),
    ("listen 8080;\n\nblock_action error ignore;\n",
     "3: directive 'block_action': invalid block_action action 'ignore'"),
    ('listen "8080;\n', "1: directive 'listen': unterminated quoted string"),
    ("listen 8080;\n}\n", "2: unexpected '}'"),
    ("frang_limits {\n  request_rate 5;\n", "1: directive 'frang_limits': missing '}' at end of file"),
    ("!include /etc/tempesta/extra.conf\n", "1: directive '!include': !include must be expanded by tempesta.sh"),
    ("listen 8080 { }\n", "1: directive 'listen': unexpected '{ ... }' block"),
    # Upstreams and routing.
    ("server 127.0.0.1:99999;\n", "1: directive 'server': invalid port '99999'"),
    ("server example.com:80;\n", "1: directive 'server': invalid address 'example.com:80': "
     "host names are not supported, use an IP address"),
    ("server 127.0.0.1:8000 conns_n=0;\n",
     "1: directive 'server': conns_n=0 out of range [1, 1024]"),
    ("server 127.0.0.1:8000 weight=101;\n",
     "1: directive 'server': weight=101 out of range [1, 100]"),
    ("server 127.0.0.1:8000;\nserver 127.0.0.1:8000;\n",
     "2: directive 'server': duplicate server 127.0.0.1:8000 in the group"),
    ("srv_group a { server 127.0.0.1:8000; }\nsrv_group a { server 127.0.0.1:8001; }\n",
     "2: directive 'srv_group': duplicate name 'a'"),
    ("srv_group a { listen 80; }\n", "1: directive 'listen': not allowed in srv_group"),
    ("sched ratio predict past=10 ahead=20;\n",
     "1: directive 'sched': value '20' out of range [1, 10]"),
    ("server 127.0.0.1:8000;\nhealth h;\nserver_failover_http 500 3 10;\n",
     "2: directive 'health': no health_check of this name"),
    ("vhost v { proxy_pass nosuch; }\n",
     "1: directive 'proxy_pass': srv_group 'nosuch' is not defined"),
    ("http_chain { -> nosuch; }\n", "1: directive '->': vhost 'nosuch' is not defined"),
    ("http_chain {\n -> 304 = /x;\n}\n", "2: directive '->': invalid redirect status "
     "(301, 302, 303, 307, 308) '304'"),
    ("http_chain {\n mark == 0 -> block;\n}\n", "2: directive 'mark': invalid rule: "
     "'mark == 0' never holds: unmarked traffic has no mark"),
    ("whitelist_mark 0;\n", "1: directive 'whitelist_mark': value '0' out of range "
     "[1, 4294967295]"),
    ('srv_group g { server 127.0.0.1:8000; }\nvhost v {\n proxy_pass g;\n location regex "/a" { }\n}\n',
     "4: directive 'location': not supported by tempesta-rs yet: operator=regex"),
    ("srv_group g { server 127.0.0.1:8000; }\nvhost v {\n proxy_pass g;\n location prefix /a { }\n"
     " location prefix /A { }\n}\n",
     "5: directive 'location': the same location is defined earlier in this vhost"),
    ("srv_group g { server 127.0.0.1:8000; }\nlocation prefix /a { }\n",
     "2: directive 'location': a location outside any vhost belongs to vhost 'default', and "
     "there is none (no 'vhost default' and no server outside a srv_group)"),
    # Values.
    ("keepalive_timeout abc;\n", "1: directive 'keepalive_timeout': invalid time 'abc'"),
    ("listen 8080;\nkeepalive_timeout 10;\nkeepalive_timeout 20;\n",
     "3: directive 'keepalive_timeout': duplicate directive (only one allowed in global context)"),
    ('hdr_via "";\n', "1: directive 'hdr_via': invalid Via agent name ''"),
    ("server_forward_timeout 99999999999;\n", "1: directive 'server_forward_timeout': "
     "value '99999999999' out of range [0, 2147483647]"),
    ("access_log syslog;\n", "1: directive 'access_log': invalid access_log value 'syslog'"),
    ("access_log off dmesg;\n",
     "1: directive 'access_log': access_log 'off' must be the only value"),
    ("mmap_log_buffer_size 5000;\n", "1: directive 'mmap_log_buffer_size': "
     "mmap_log_buffer_size must be a multiple of 4K"),
    ("client_mem 10 1;\n", "1: directive 'client_mem': the soft limit is above the hard limit"),
    ("client_mem 11aa;\n", "1: directive 'client_mem': invalid size '11aa'"),
    ("listen 8080;\nresponse_body 4* /tmp/tfw-tests/no-such-page.html;\n",
     "2: directive 'response_body': cannot read '/tmp/tfw-tests/no-such-page.html': error -2"),
    ("response_body 200 /tmp/x.html;\n", "1: directive 'response_body': invalid status code '200'"),
    ("http_cookie_brange 0x30-0x39 0x3b;\n",
     "1: directive 'http_cookie_brange': invalid byte for this alphabet '0x3b'"),
    ("http_uri_brange 0x00-0x7e;\n",
     "1: directive 'http_uri_brange': invalid byte for this alphabet '0x00-0x7e'"),
    ("health_stat 6*;\n", "1: directive 'health_stat': invalid HTTP status '6*'"),
    # Known to Tempesta FW, not implemented yet: named, never ignored.
    ("max_concurrent_streams 100;\n",
     "1: directive 'max_concurrent_streams': not supported by tempesta-rs yet"),
    ("client_tbl_size 5000;\n", "1: directive 'client_tbl_size': the size must be a multiple of 4K"),
    ("cache 3;\n", "1: directive 'cache': value '3' out of range [0, 2]"),
    ("cache_fulfill regex x;\n", "1: directive 'cache_fulfill': invalid operator 'regex'"),
    ("frang_limits { ip_block 60; }\nblock_action attack reply;\n", "1: directive 'ip_block': ip_block needs 'block_action attack drop'"),
    ("frang_limits { tls_connection_rate 60; }\n", "1: directive 'tls_connection_rate': not supported by tempesta-rs yet"),
    ("frang_limits { http_methods get fetch; }\n",
     "1: directive 'http_methods': invalid method 'fetch'"),
]


def _reject(cfg_text, want, running):
    path = write_cfg(cfg_text)  # the path the module was loaded with
    before = state()
    ports = listening_ports()
    log = KernelLog()
    rc, out = ctl("start")
    new = log.new()
    expect(rc != 0, f"{cfg_text!r} was accepted")
    expect("Invalid argument" in out, f"{cfg_text!r}: sysctl said {out.strip()!r}, not EINVAL")
    line = f"config error: {path}:{want}"
    expect(line in new, f"{cfg_text!r}: expected {line!r} in the log:\n{new}")
    errors = [l for l in new.splitlines() if "config error" in l]
    expect(len(errors) == 1, f"{cfg_text!r}: {len(errors)} error lines, want one:\n{new}")
    after = "start (failed reconfig)" if running else before
    expect(state() == after, f"{cfg_text!r}: state {state()!r}, want {after!r}")
    expect(listening_ports() == ports, f"{cfg_text!r}: listeners changed")


@test
def bad_configs_rejected_when_stopped():
    insmod(write_cfg("listen 8080;\n"))
    for cfg, want in BAD:
        _reject(cfg, want, running=False)


@test
def bad_configs_rejected_when_running():
    insmod(write_cfg("listen 8099;\n"))
    start()
    for cfg, want in BAD:
        _reject(cfg, want, running=True)
        expect(8099 in listening_ports(), "the running listener was closed")


@test
def missing_config_file():
    insmod("/tmp/tfw-tests/does-not-exist.conf")
    log = KernelLog()
    rc, out = ctl("start")
    expect(rc != 0, "start without a configuration file must fail")
    expect("cannot read /tmp/tfw-tests/does-not-exist.conf" in log.new(), log.new())
    expect(state() == "stop", "state changed")
