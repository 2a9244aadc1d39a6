//! Randomized robustness: mutated configurations never panic, and `measure`/`parse` agree.
//!
//! A tiny xorshift generator (fixed seeds, so failures reproduce) mutates the example
//! configuration and a corpus of snippets: byte flips, insertions of syntax characters and
//! fragments, deletions, truncations, splices. Every input goes through measure, parse (exact,
//! short and roomy buffers), validate in both modes, the listeners and every accessor (the cache ones included).

mod common;

use tempesta_config::{
    cache, default_vhost, effective_listeners, hdr_via, keepalive_timeout, listeners, measure,
    parse, servers, srv_groups, validate, values, vhosts, Location, Node, Options, Scope, Token,
};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const SNIPPETS: &[&str] = &[
    "listen 80;",
    "listen [::1]:443 proto=h2,https;",
    "listen 127.0.0.1:8080 proto=http;",
    "vhost v { proxy_pass g backup=h; location prefix \"/a\" { frang_limits { http_uri_len 5; } } }",
    "http_chain { uri == \"/x*\" -> block; hdr \"A\" != \"b\" -> mark = 7; -> main; }",
    "srv_group g { server 1.1.1.1; }\nvhost v { proxy_pass g; frang_limits { http_ct_vals a/b; http_resp_code_block 404 3 5; } }\nhttp_chain p { cookie \"*\" == \"1\" -> cache_ttl = 5; -> v; }\nhttp_chain { mark == * -> p; -> 308 = /$host$request_uri; }\nwhitelist_mark 1 2;",
    "srv_group g { server 10.0.0.1 conns_n=4 weight=10; sched ratio static; }",
    "server 10.0.0.9;\nsrv_group h { server [::1]:81; server_queue_size 5; }\nvhost v { proxy_pass h; }\nvhost default { }\nhttp_chain { -> v; }\nhdr_via \"x\";\nkeepalive_timeout 5;",
    "sched ratio dynamic percentile 90;\nserver_retry_nonidempotent;\nserver 10.0.0.1;\nhttp_chain c { -> default; }\nhttp_chain { host == \"a\" -> c; }",
    "frang_limits { request_rate 10; http_methods get post; }",
    "req_hdr_set X-A \"a \\\" b\";",
    "a { b { c { d { e { f { g { h { } } } } } } } }",
    "cache 2;\ncache_fulfill * *;\ncache_methods GET HEAD;\ncache_size 1M;\ncache_ttl 3600;\ncache_purge immediate;\ncache_purge_acl 127.0.0.1 ::1/64 10.0.0.0/8;",
    "server 1.1.1.1;\ncache_bypass prefix \"/a\" /b;\ncache_resp_hdr_del Set-Cookie;\ncache_control_ignore no-cache private;\ncache_use_stale 4* 503;\nvhost v { proxy_pass default; cache_fulfill suffix .css; cache_use_stale 5*; cache_control_ignore max-age; cache_resp_hdr_del X-A; location prefix /x { cache_bypass * *; } }",
];

const FRAGMENTS: &[&[u8]] = &[
    b";",
    b"{",
    b"}",
    b"\"",
    b"\\",
    b"#",
    b"=",
    b"==",
    b"!=",
    b"->",
    b"\n",
    b" ",
    b"\t",
    b"\0",
    b"\x01",
    b"\xff",
    b"listen",
    b"!include",
    b"80",
    b"[::1]",
    b":",
    b"proto=",
    b"-",
    b"!",
    b"70000",
    b"vhost v {",
    b"http_chain {",
    b"-> x",
    b"\xc3\xa9",
    b"0x",
    b"a=b",
    b"cache_fulfill",
    b"*",
    b"4*",
    b"/33",
    b"cache_use_stale 600",
];

fn exercise(src: &[u8]) {
    let m = measure(src);
    // parse with generous buffers: same verdict as measure
    let mut nodes = vec![Node::EMPTY; src.len() + 1];
    let mut tokens = vec![Token::EMPTY; src.len() + 1];
    let p = parse(src, &mut nodes, &mut tokens);
    match (&m, &p) {
        (Ok(s), Ok(t)) => {
            assert_eq!(s.nodes, t.nodes().len());
            assert_eq!(s.tokens, t.tokens().len());
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("measure {m:?} vs parse {:?}", p.map(|_| ())),
    }
    let Ok(sizes) = m else { return };

    // exact buffers
    let mut nodes = vec![Node::EMPTY; sizes.nodes];
    let mut tokens = vec![Token::EMPTY; sizes.tokens];
    let tree = parse(src, &mut nodes, &mut tokens).expect("exact buffers");
    for opts in [Options::STRICT, Options::LENIENT] {
        let _ = validate(&tree, &opts).map_err(|e| e.to_string());
    }
    for l in effective_listeners(&tree) {
        let _ = l.map_err(|e| e.with_file("f").to_string());
    }
    let _ = listeners(&tree).count();
    for g in srv_groups(&tree).flatten() {
        for sv in servers(&tree, &g) {
            let _ = sv.map_err(|e| e.to_string());
        }
    }
    for v in vhosts(&tree) {
        let _ = v.map_err(|e| e.to_string());
    }
    let _ = default_vhost(&tree).map_err(|e| e.to_string());
    for c in tempesta_config::tables::chains(&tree) {
        let _ = tempesta_config::tables::chain_name(&tree, c);
        for r in tempesta_config::tables::rules(&tree, c) {
            let _ = r.map_err(|e| e.to_string());
        }
    }
    let _ = tempesta_config::frang(&tree).map_err(|e| e.to_string());
    let mut marks = [0u32; tempesta_config::frang::MAX_WHITELIST_MARKS];
    let _ = tempesta_config::whitelist_marks(&tree, &mut marks).map_err(|e| e.to_string());
    let mut vals = [&b""[..]; tempesta_config::frang::MAX_CT_VALS];
    let _ = tempesta_config::frang::ct_vals(&tree, &mut vals).map_err(|e| e.to_string());
    for v in vhosts(&tree).flatten() {
        let _ = tempesta_config::vhost_frang(&tree, v.name).map_err(|e| e.to_string());
        let _ = tempesta_config::frang::vhost_ct_vals(&tree, v.name, &mut vals)
            .map_err(|e| e.to_string());
    }
    let _ = cache::cache(&tree).map_err(|e| e.to_string());
    let mut rules = [cache::Rule::NONE; cache::MAX_RULES];
    let mut names = [&b""[..]; cache::MAX_NAMES];
    let mut acl = [cache::Cidr::NONE; cache::MAX_ACL];
    let _ = cache::purge_acl(&tree, &mut acl).map_err(|e| e.to_string());
    let vhost_names: Vec<&str> = vhosts(&tree).flatten().map(|v| v.name).collect();
    let mut scopes: Vec<Scope<'_>> = vec![Scope::GLOBAL, Scope::vhost("nope")];
    let mut locs = [Location::NONE; tempesta_config::MAX_LOCATIONS];
    for name in &vhost_names {
        scopes.push(Scope::vhost(name));
        if let Ok(n) = tempesta_config::locations(&tree, name, &mut locs) {
            for l in &locs[..n] {
                scopes.push(Scope::location(name, l));
            }
        }
        // A node index that is not a location.
        scopes.push(Scope {
            vhost: Some(name),
            location: Some(0),
        });
    }
    for sc in scopes {
        let _ = cache::rules(&tree, sc, &mut rules).map_err(|e| e.to_string());
        let _ = cache::resp_hdr_del(&tree, sc, &mut names).map_err(|e| e.to_string());
        let _ = cache::cc_ignore(&tree, sc, &mut names).map_err(|e| e.to_string());
        let _ = cache::use_stale(&tree, sc, &mut names).map_err(|e| e.to_string());
        let _ = tempesta_config::frang::scope_frang(&tree, sc).map_err(|e| e.to_string());
        let _ =
            tempesta_config::frang::scope_ct_vals(&tree, sc, &mut vals).map_err(|e| e.to_string());
        let _ = tempesta_config::location::proxy_pass(&tree, sc);
        for resp in [false, true] {
            let _ = tempesta_config::hdrmod::hdr_mods(&tree, sc, resp, &mut |_| {})
                .map_err(|e| e.to_string());
        }
    }
    let _ = keepalive_timeout(&tree);
    let _ = hdr_via(&tree);
    let mut buf = [0u8; 64];
    let mut stack = vec![tree.top_level()];
    while let Some(mut it) = stack.pop() {
        if let Some(n) = it.next() {
            stack.push(it);
            let _ = tree.name_str(n);
            let _ = tree.parent(n);
            for a in tree.args(n) {
                let _ = a.as_str();
                let _ = values::unescape(a.text, &mut buf);
                let _ = values::parse_u32_in(a.text, 1, 100);
                let _ = values::parse_size(a.text);
                let _ = values::parse_bool(a.text);
                let _ = values::parse_secs(a.text, 3600);
            }
            for o in tree.options(n) {
                let _ = values::unescape(o.value, &mut buf);
            }
            stack.push(tree.children(n));
        }
    }

    // short buffers fail cleanly
    if sizes.nodes > 0 {
        let mut nodes = vec![Node::EMPTY; sizes.nodes - 1];
        let mut tokens = vec![Token::EMPTY; sizes.tokens];
        assert!(parse(src, &mut nodes, &mut tokens).is_err());
    }
    if sizes.tokens > 0 {
        let mut nodes = vec![Node::EMPTY; sizes.nodes];
        let mut tokens = vec![Token::EMPTY; sizes.tokens / 2];
        assert!(parse(src, &mut nodes, &mut tokens).is_err());
    }
}

fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            1 => {
                let i = rng.below(v.len() + 1);
                let f = FRAGMENTS[rng.below(FRAGMENTS.len())];
                v.splice(i..i, f.iter().copied());
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = rng.below(16).min(v.len() - i);
                v.drain(i..i + n);
            }
            3 => {
                let n = rng.below(v.len() + 1);
                v.truncate(n);
            }
            4 => {
                let s = SNIPPETS[rng.below(SNIPPETS.len())].as_bytes();
                let i = rng.below(v.len() + 1);
                v.splice(i..i, s.iter().copied());
            }
            5 if !v.is_empty() => {
                // duplicate a slice elsewhere
                let a = rng.below(v.len());
                let b = a + rng.below(32).min(v.len() - a);
                let piece = v[a..b].to_vec();
                let i = rng.below(v.len() + 1);
                v.splice(i..i, piece);
            }
            _ => {
                let i = rng.below(v.len() + 1);
                v.insert(i, b"{};\"=\\#\n"[rng.below(8)]);
            }
        }
    }
    v
}

#[test]
fn mutated_inputs_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut seeds: Vec<Vec<u8>> = vec![common::EXAMPLE.as_bytes().to_vec()];
    seeds.extend(SNIPPETS.iter().map(|s| s.as_bytes().to_vec()));
    for s in &seeds {
        exercise(s);
    }
    for _ in 0..6000 {
        let base = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, base);
        exercise(&input);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    let alphabet = b"ab0189:.[]{};\"\\#=!->\n \t,/*_~\x00\xff";
    for _ in 0..4000 {
        let len = rng.below(120);
        let input: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        exercise(&input);
    }
}
