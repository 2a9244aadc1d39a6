//! Schema validation, `listen` semantics and the example configuration.

mod common;

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use common::{check, listens, with_tree, EXAMPLE};
use tempesta_config::{listeners, validate, Listen, Options, Proto, DEFAULT_LISTEN};

const STRICT: Options = Options::STRICT;
const LENIENT: Options = Options::LENIENT;

#[test]
fn example_config_is_well_formed_in_lenient_mode() {
    assert_eq!(check(EXAMPLE, LENIENT), Ok(()));
}

#[test]
fn example_config_loads_in_strict_mode() {
    // The module validates with STRICT: Tempesta FW's example must load unchanged.
    assert_eq!(check(EXAMPLE, STRICT), Ok(()));
}

#[test]
fn example_config_structure() {
    with_tree(EXAMPLE.as_bytes(), |t| {
        let names: Vec<&str> = t.top_level().map(|n| t.name_str(n).unwrap()).collect();
        assert_eq!(
            names,
            [
                "listen",
                "block_action",
                "block_action",
                "frang_limits",
                "keepalive_timeout",
                "srv_group",
                "vhost",
                "http_chain"
            ]
        );
        let chain = t.top_level().last().unwrap();
        assert_eq!(chain.line(), 68);
        let rule = t.children(chain).next().unwrap();
        assert!(rule.is_rule());
        assert_eq!(rule.line(), 73);
        let l: Vec<Listen> = listeners(t).map(Result::unwrap).collect();
        assert_eq!(l, [DEFAULT_LISTEN]);
    })
    .unwrap();
}

#[test]
fn supported_subset_passes_strict_mode() {
    let src = "# only what tempesta-rs implements\nlisten 80;\nlisten 127.0.0.1:8080 proto=http;\nlisten [::1]:8081;\n";
    assert_eq!(check(src, STRICT), Ok(()));
    assert_eq!(check("", STRICT), Ok(()));
}

/// (config, options, exact error)
const BAD: &[(&str, Options, &str)] = &[
    // --- syntax ---
    ("listen 80", STRICT, "line 1: directive 'listen': missing ';'"),
    ("listen 80;\n}", STRICT, "line 2: unexpected '}'"),
    ("listen 80;;", STRICT, "line 1: unexpected ';'"),
    ("{ listen 80; }", STRICT, "line 1: unexpected '{'"),
    ("listen \"80;\n", STRICT, "line 1: directive 'listen': unterminated quoted string"),
    (
        "vhost a {\n  proxy_pass b;\n",
        LENIENT,
        "line 1: directive 'vhost': missing '}' at end of file",
    ),
    (
        "listen 80;\n!include /etc/tempesta/ua_block_rules.conf\n",
        LENIENT,
        "line 2: directive '!include': !include must be expanded by tempesta.sh",
    ),
    ("listen 80 = 1;", STRICT, "line 1: directive 'listen': invalid option name '80'"),
    ("listen 80 proto=;", STRICT, "line 1: directive 'listen': missing value for option 'proto'"),
    ("listen 80 -> x;", STRICT, "line 1: directive 'listen': unexpected '->'"),
    ("9lives 1;", STRICT, "line 1: directive '9lives': invalid directive name '9lives'"),
    ("listen 80;\x07", STRICT, "line 1: invalid character '\\x07'"),
    (
        "http_chain {\n  uri == \"/x\" block;\n}",
        LENIENT,
        "line 2: directive 'uri': invalid rule: expected '->' after the condition",
    ),
    // --- schema ---
    ("listen 80;\nfoo 1;", STRICT, "line 2: directive 'foo': unknown directive"),
    ("Listen 80;", STRICT, "line 1: directive 'Listen': unknown directive"),
    ("max_concurrent_streams 100;", STRICT, "line 1: directive 'max_concurrent_streams': not supported by tempesta-rs yet"),
    (
        "health_check h { timeout 1; }",
        STRICT,
        "line 1: directive 'health_check': needs 'resp_code' or an explicit (not 'auto') \
         'resp_crc32'",
    ),
    (
        "server_failover_http 500 3 10;\nsrv_group g {\n  server 127.0.0.1;\n  health h;\n}",
        STRICT,
        "line 4: directive 'health': no health_check of this name",
    ),
    (
        "server 127.0.0.1;\nhealth auto;",
        STRICT,
        "line 2: directive 'health': health monitoring needs a 'server_failover_http' directive",
    ),
    (
        "server_failover_http 5xx 3 10;",
        STRICT,
        "line 1: directive 'server_failover_http': invalid HTTP status '5xx'",
    ),
    ("proxy_pass g;", LENIENT, "line 1: directive 'proxy_pass': not allowed in global context"),
    (
        "server 127.0.0.1;\nvhost default {\n  listen 80;\n}",
        LENIENT,
        "line 3: directive 'listen': not allowed in vhost",
    ),
    (
        "server 127.0.0.1;\nvhost default { frang_limits { request_rate 5; } }",
        LENIENT,
        "line 2: directive 'request_rate': not allowed in vhost/location frang_limits",
    ),
    ("srv_group g { vhost v { } }", LENIENT, "line 1: directive 'vhost': not allowed in srv_group"),
    ("http_chain { listen 80; }", LENIENT, "line 1: directive 'listen': not allowed in http_chain"),
    ("-> main;", LENIENT, "line 1: directive '->': not allowed in global context"),
    ("uri == \"/x\" -> block;", LENIENT, "line 1: directive 'uri': not allowed in global context"),
    ("vhost v;", LENIENT, "line 1: directive 'vhost': expected a '{ ... }' block"),
    ("keepalive_timeout 5 { }", LENIENT, "line 1: directive 'keepalive_timeout': unexpected '{ ... }' block"),
    ("listen 80 { }", STRICT, "line 1: directive 'listen': unexpected '{ ... }' block"),
    ("listen 80 81 82;", STRICT, "line 1: directive 'listen': expected 1 argument, got 3"),
    ("listen 80\nlisten 81;", STRICT, "line 1: directive 'listen': expected 1 argument, got 3"),
    ("listen;", STRICT, "line 1: directive 'listen': expected 1 argument, got 0"),
    ("block_action error;", LENIENT, "line 1: directive 'block_action': expected 2 to 3 arguments, got 1"),
    ("frang_limits {\n  http_methods;\n}", LENIENT, "line 2: directive 'http_methods': expected at least 1 argument, got 0"),
    ("server_retry_nonidempotent 1;", LENIENT, "line 1: directive 'server_retry_nonidempotent': expected no arguments, got 1"),
    ("cache_purge a b;", LENIENT, "line 1: directive 'cache_purge': expected at most 1 argument, got 2"),
    ("server 127.0.0.1 foo=1;", LENIENT, "line 1: directive 'server': unknown option 'foo'"),
    ("keepalive_timeout 5 x=1;", LENIENT, "line 1: directive 'keepalive_timeout': unknown option 'x'"),
    ("server 127.0.0.1 weight=1 WEIGHT=2;", LENIENT, "line 1: directive 'server': duplicate option 'WEIGHT'"),
    (
        "keepalive_timeout 5;\nkeepalive_timeout 6;",
        LENIENT,
        "line 2: directive 'keepalive_timeout': duplicate directive (only one allowed in global context)",
    ),
    (
        "srv_group a { }\nsrv_group b { }\nvhost v { proxy_pass a; proxy_pass b; }",
        LENIENT,
        "line 3: directive 'proxy_pass': duplicate directive (only one allowed in vhost)",
    ),
    (
        "server 127.0.0.1;\nvhost a { proxy_pass default; }\nvhost A { proxy_pass default; }",
        LENIENT,
        "line 3: directive 'vhost': duplicate name 'A'",
    ),
    ("srv_group g { }\nsrv_group g { }", LENIENT, "line 2: directive 'srv_group': duplicate name 'g'"),
    (
        "http_chain { }\nhttp_chain x { }",
        LENIENT,
        "line 2: directive 'http_chain': the main (unnamed) http_chain must be the only one and the last one",
    ),
    (
        "server 127.0.0.1;\nvhost main { proxy_pass default; }\nhttp_chain {\n  -> main;\n  host == \"a\" -> b;\n}",
        LENIENT,
        "line 5: directive 'host': a default rule '-> ...' must be the last rule of its http_chain",
    ),
    ("http_chain { foo == \"x\" -> y; }", LENIENT, "line 1: directive 'foo': invalid rule field 'foo'"),
    (
        "http_chain { hdr == \"x\" -> y; }",
        LENIENT,
        "line 1: directive 'hdr': invalid rule: 'hdr' and 'cookie' need a name: hdr \"NAME\" == ARG",
    ),
    ("http_chain { -> mark; }", LENIENT, "line 1: directive '->': invalid rule: action 'mark' needs '= N'"),
    (
        "http_chain { uri \"x\" == \"y\" -> z; }",
        LENIENT,
        "line 1: directive 'uri': invalid rule: only 'hdr' and 'cookie' take a name before '=='",
    ),
    ("listen 80;\r\nfoo 1;\r\n", STRICT, "line 2: directive 'foo': unknown directive"),
    ("hdr_via \"a\x01b\";", LENIENT, "line 1: directive 'hdr_via': invalid character '\\x01'"),
    // --- listen ---
    ("listen 70000;", STRICT, "line 1: directive 'listen': invalid port '70000'"),
    ("listen 0;", STRICT, "line 1: directive 'listen': invalid port '0'"),
    ("listen 99999999999999999999;", STRICT, "line 1: directive 'listen': invalid port '99999999999999999999'"),
    ("listen 10.0.0.1:65536;", STRICT, "line 1: directive 'listen': invalid port '65536'"),
    ("listen 10.0.0.1:;", STRICT, "line 1: directive 'listen': invalid port ''"),
    ("listen [::1]:0;", STRICT, "line 1: directive 'listen': invalid port '0'"),
    ("listen 300.0.0.1:80;", STRICT, "line 1: directive 'listen': invalid address '300.0.0.1:80'"),
    ("listen localhost:80;", STRICT, "line 1: directive 'listen': invalid address 'localhost:80'"),
    ("listen [::1:80;", STRICT, "line 1: directive 'listen': invalid address '[::1:80'"),
    ("listen [10.0.0.1]:80;", STRICT, "line 1: directive 'listen': invalid address '[10.0.0.1]:80'"),
    ("listen [::1]x;", STRICT, "line 1: directive 'listen': invalid address '[::1]x'"),
    ("listen 80;\nlisten 0.0.0.0:80;", STRICT, "line 2: directive 'listen': duplicate listen address 0.0.0.0:80"),
    (
        "listen [::1]:443;\n\nlisten [0:0::1]:443 proto=h2;",
        LENIENT,
        "line 3: directive 'listen': duplicate listen address [::1]:443",
    ),
    ("listen 127.0.0.1;\nlisten 127.0.0.1:80;", STRICT, "line 2: directive 'listen': duplicate listen address 127.0.0.1:80"),
    ("listen 443 proto=https;", STRICT, "line 1: directive 'listen': not supported by tempesta-rs yet: proto=https"),
    ("listen 443 proto=h2,https;", STRICT, "line 1: directive 'listen': not supported by tempesta-rs yet: proto=h2,https"),
    ("listen 443 proto=\"h2\";", STRICT, "line 1: directive 'listen': not supported by tempesta-rs yet: proto=h2"),
    ("listen 80 proto=ftp;", LENIENT, "line 1: directive 'listen': invalid proto 'ftp'"),
    ("listen 80 proto=h2,http;", LENIENT, "line 1: directive 'listen': invalid proto 'h2,http'"),
    ("listen 80 backlog=5;", STRICT, "line 1: directive 'listen': unknown option 'backlog'"),
    ("listen 80 proto=http proto=http;", STRICT, "line 1: directive 'listen': duplicate option 'proto'"),
];

#[test]
fn bad_configurations() {
    assert!(BAD.len() >= 30);
    let mut failures = Vec::new();
    for (src, opts, want) in BAD {
        let got = check(src, *opts);
        if got.as_ref().map_err(String::as_str) != Err(*want) {
            failures.push(format!("{src:?}\n   want: {want}\n    got: {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn strict_errors_are_also_lenient_errors_except_support() {
    // Everything refused in lenient mode is refused in strict mode, with the same message or
    // an earlier 'not supported' one.
    for (src, opts, want) in BAD {
        if *opts == LENIENT {
            let strict = check(src, STRICT).unwrap_err();
            assert!(
                strict == *want || strict.contains("not supported by tempesta-rs yet"),
                "{src:?}: {strict}"
            );
        }
    }
}

#[test]
fn listen_forms() {
    let v4 = |a: [u8; 4], p| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), p);
    let v6 = |a: Ipv6Addr, p| SocketAddr::new(IpAddr::V6(a), p);
    let http = |addr| Listen {
        addr,
        proto: Proto::Http,
    };
    assert_eq!(listens(""), Ok(vec![http(v4([0, 0, 0, 0], 80))]));
    assert_eq!(listens("# nothing\n"), Ok(vec![DEFAULT_LISTEN]));
    assert_eq!(
        listens("listen 8080;"),
        Ok(vec![http(v4([0, 0, 0, 0], 8080))])
    );
    assert_eq!(
        listens("listen 00080;"),
        Ok(vec![http(v4([0, 0, 0, 0], 80))])
    );
    assert_eq!(
        listens("listen 65535;"),
        Ok(vec![http(v4([0, 0, 0, 0], 65535))])
    );
    assert_eq!(listens("listen 1;"), Ok(vec![http(v4([0, 0, 0, 0], 1))]));
    assert_eq!(
        listens("listen 127.0.0.1;"),
        Ok(vec![http(v4([127, 0, 0, 1], 80))])
    );
    assert_eq!(
        listens("listen 10.1.2.3:8443;"),
        Ok(vec![http(v4([10, 1, 2, 3], 8443))])
    );
    assert_eq!(
        listens("listen [::1]:443;"),
        Ok(vec![http(v6(Ipv6Addr::LOCALHOST, 443))])
    );
    assert_eq!(
        listens("listen [::]:80;"),
        Ok(vec![http(v6(Ipv6Addr::UNSPECIFIED, 80))])
    );
    assert_eq!(
        listens("listen [::1];"),
        Ok(vec![http(v6(Ipv6Addr::LOCALHOST, 80))])
    );
    assert_eq!(
        listens("listen ::1;"),
        Ok(vec![http(v6(Ipv6Addr::LOCALHOST, 80))])
    );
    assert_eq!(
        listens("listen \"8081\";"),
        Ok(vec![http(v4([0, 0, 0, 0], 8081))])
    );
    assert_eq!(
        listens("listen 80 proto=HTTP;"),
        Ok(vec![http(v4([0, 0, 0, 0], 80))])
    );
    assert_eq!(
        listens("listen 80 PROTO=http;"),
        Ok(vec![http(v4([0, 0, 0, 0], 80))])
    );
    // IPv4 and IPv6 wildcards on the same port are different sockets.
    assert_eq!(
        listens("listen 80;\nlisten [::]:80;\nlisten 127.0.0.1:80;"),
        Ok(vec![
            http(v4([0, 0, 0, 0], 80)),
            http(v6(Ipv6Addr::UNSPECIFIED, 80)),
            http(v4([127, 0, 0, 1], 80)),
        ])
    );
}

#[test]
fn listen_protos_are_typed_for_later_layers() {
    with_tree(
        b"listen 443 proto=https;\nlisten 444 proto=h2;\nlisten 445 proto=h2,https;\nlisten 446 proto=https,H2;",
        |t| {
            assert_eq!(validate(t, &LENIENT), Ok(()));
            let protos: Vec<Proto> = listeners(t).map(|l| l.unwrap().proto).collect();
            assert_eq!(protos, [Proto::Https, Proto::H2, Proto::H2Https, Proto::H2Https]);
            assert_eq!(Proto::H2Https.to_string(), "h2,https");
        },
    )
    .unwrap();
}

#[test]
fn listeners_report_errors_in_order() {
    with_tree(b"listen 80;\nlisten 70000;\nlisten 80;\nlisten 81;", |t| {
        let v: Vec<Result<Listen, String>> =
            listeners(t).map(|l| l.map_err(|e| e.to_string())).collect();
        assert_eq!(v.len(), 4);
        assert!(v[0].is_ok());
        assert_eq!(
            v[1],
            Err("line 2: directive 'listen': invalid port '70000'".into())
        );
        assert_eq!(
            v[2],
            Err("line 3: directive 'listen': duplicate listen address 0.0.0.0:80".into())
        );
        assert_eq!(v[3].as_ref().map(|l| l.addr.port()), Ok(81));
    })
    .unwrap();
}

#[test]
fn too_many_listeners() {
    let mut src = String::new();
    for p in 1..=1025 {
        src.push_str(&format!("listen {p};\n"));
    }
    assert_eq!(
        check(&src, STRICT),
        Err("line 1025: directive 'listen': too many listen directives (max 1024)".into())
    );
    let ok: String = (1..=1024).map(|p| format!("listen {p};\n")).collect();
    assert_eq!(check(&ok, STRICT), Ok(()));
}

#[test]
fn lenient_accepts_tempesta_features() {
    let src = r#"
listen 443 proto=h2,https;
listen [::]:80;
keepalive_timeout 75;
client_mem 500M 1G;
http_max_header_list_size 16384;
max_concurrent_streams 100;
server 10.0.0.1:8080 conns_n=32 weight=50;
sched ratio dynamic percentile 90;
srv_group static {
    server 10.0.0.2;
    server [::1]:8080 conns_n=4;
    sched ratio predict past=30 rate=20 ahead=15;
    server_queue_size 1000;
    server_forward_timeout 60;
    server_forward_retries 5;
    server_retry_nonidempotent;
    server_connect_retries 10;
    health h1;
}
server_failover_http 404 300 10;
health_check h1 {
    request "GET / HTTP/1.1\r\n\r\n";
    request_url "/";
    resp_code 200;
    resp_crc32 auto;
    timeout 10;
}
cache 2;
cache_methods GET HEAD;
cache_size 256M;
cache_ttl 3600;
cache_fulfill * *;
cache_bypass prefix "/admin" "/private";
cache_purge invalidate;
cache_purge_acl 127.0.0.1 10.0.0.0/8;
nonidempotent GET prefix "/queue";
req_hdr_set X-Forwarded-Proto https;
resp_hdr_set Server;
hdr_via "tempesta";
tls_certificate /etc/a.crt;
tls_certificate_key /etc/a.key;
tls_match_any_server_name;
access_log dmesg;
whitelist_mark 1 2 3;
http_uri_brange 0x24-0x26 0x28-0x29;
block_action attack drop nolog;
frang_limits {
    ip_block on;
    request_rate 200;
    http_uri_len 1024;
    http_methods get post;
    http_resp_code_block 403 404 10 30;
    http_strict_host_checking false;
}
vhost static {
    proxy_pass static backup=default;
    tls_certificate /etc/s.crt;
    tls_certificate_key /etc/s.key;
    frang_limits { http_body_len 1M; }
    location prefix "/images/" {
        proxy_pass static;
        cache_fulfill * *;
        frang_limits { http_uri_len 64; }
    }
    location regex "\.php$" {
        resp_hdr_add X-Cache "hit";
    }
}
vhost default { proxy_pass default; }
http_chain blocked {
    hdr "User-Agent" == "*curl*" -> block;
    cookie "session" == "x*" -> default;
    -> default;
}
http_chain {
    mark == 1 -> blocked;
    method == "post" -> mark = 7;
    -> mark = 3;
    uri == "/old*" -> 301 = https://$host/new$request_uri;
    host != "static.example.com" -> $cache = 0;
    uri == "/admin*" -> blocked;
    -> static;
}
"#;
    assert_eq!(check(src, LENIENT), Ok(()));
    assert_eq!(
        check(src, STRICT),
        Err("line 2: directive 'listen': not supported by tempesta-rs yet: proto=h2,https".into())
    );
}

#[test]
fn listeners_with_their_lines() {
    with_tree(b"# c\nlisten 80;\n\nvhost v { }\nlisten [::1]:81;\n", |t| {
        let v: Vec<(u32, u16)> = tempesta_config::listeners_with_lines(t)
            .map(|r| r.map(|(line, l)| (line, l.addr.port())).unwrap())
            .collect();
        assert_eq!(v, [(2, 80), (5, 81)]);
    })
    .unwrap();
}
