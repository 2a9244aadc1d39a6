//! The table of Tempesta FW directives: where each may appear, its shape and how far
//! tempesta-rs implements it.
//!
//! Every entry is data. To mark a directive as implemented, append `.supported()` to its entry
//! in [`DIRECTIVES`]; nothing else changes (the validator then also runs the directive's
//! semantic check if one exists in `validate.rs`).
//!
//! Sources: `TEMPESTA_REFERENCE.md` plus the `TfwCfgSpec` tables of Tempesta FW
//! (`sock_clnt.c`, `sock_srv.c`, `vhost.c`, `http.c`, `cache.c`, `apm.c`, `http_tbl.c`,
//! `access_log.c`, `http_sess_conf.c`). Names are matched case-sensitively, as Tempesta does.

/// A context a directive can appear in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// Top level of the file (also the implicit `default` server group and vhost).
    Global,
    /// Inside `srv_group NAME { ... }`.
    SrvGroup,
    /// Inside `vhost NAME { ... }`.
    Vhost,
    /// Inside `location OP ARG { ... }`.
    Location,
    /// Inside a top-level `frang_limits { ... }`.
    FrangGlobal,
    /// Inside `frang_limits { ... }` of a vhost or location (global-only limits are refused).
    FrangVhost,
    /// Inside `http_chain [NAME] { ... }`: rules only.
    HttpChain,
    /// Inside `health_check NAME { ... }`.
    HealthCheck,
    /// Inside `sticky { ... }`.
    Sticky,
}

impl Context {
    /// The name used in messages (`not allowed in NAME`).
    pub const fn name(self) -> &'static str {
        match self {
            Context::Global => "global context",
            Context::SrvGroup => "srv_group",
            Context::Vhost => "vhost",
            Context::Location => "location",
            Context::FrangGlobal => "frang_limits",
            Context::FrangVhost => "vhost/location frang_limits",
            Context::HttpChain => "http_chain",
            Context::HealthCheck => "health_check",
            Context::Sticky => "sticky",
        }
    }

    const fn bit(self) -> u16 {
        match self {
            Context::Global => 0x001,
            Context::SrvGroup => 0x002,
            Context::Vhost => 0x004,
            Context::Location => 0x008,
            Context::FrangGlobal => 0x010,
            Context::FrangVhost => 0x020,
            Context::HttpChain => 0x040,
            Context::HealthCheck => 0x080,
            Context::Sticky => 0x100,
        }
    }
}

/// A set of [`Context`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contexts(u16);

impl Contexts {
    /// Global only.
    pub const G: Contexts = Contexts(Context::Global.bit());
    /// `srv_group` only.
    pub const SG: Contexts = Contexts(Context::SrvGroup.bit());
    /// Global or `srv_group`.
    pub const G_SG: Contexts = Contexts(Context::Global.bit() | Context::SrvGroup.bit());
    /// Global or `vhost`.
    pub const G_V: Contexts = Contexts(Context::Global.bit() | Context::Vhost.bit());
    /// `vhost` or `location`.
    pub const V_L: Contexts = Contexts(Context::Vhost.bit() | Context::Location.bit());
    /// Global, `vhost` or `location`.
    pub const G_V_L: Contexts =
        Contexts(Context::Global.bit() | Context::Vhost.bit() | Context::Location.bit());
    /// Top-level `frang_limits` only.
    pub const FG: Contexts = Contexts(Context::FrangGlobal.bit());
    /// Any `frang_limits`.
    pub const F: Contexts = Contexts(Context::FrangGlobal.bit() | Context::FrangVhost.bit());
    /// Any `frang_limits` or `location` (`http_resp_code_block`).
    pub const F_L: Contexts =
        Contexts(Context::FrangGlobal.bit() | Context::FrangVhost.bit() | Context::Location.bit());
    /// `health_check` only.
    pub const HC: Contexts = Contexts(Context::HealthCheck.bit());
    /// `sticky` only.
    pub const ST: Contexts = Contexts(Context::Sticky.bit());

    /// Whether `ctx` is in the set.
    pub const fn contains(self, ctx: Context) -> bool {
        self.0 & ctx.bit() != 0
    }
}

/// Statement (`name ...;`), block (`name ... { }`) or either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Ends with `;`.
    Statement,
    /// Has a `{ ... }` block.
    Block,
    /// Either form (e.g. `sticky`).
    Either,
}

/// The `key=value` options a directive takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionSpec {
    /// No options.
    None,
    /// Only these keys (ASCII case-insensitive, like Tempesta).
    Keys(&'static [&'static str]),
    /// Any key (directives whose options are not catalogued).
    Any,
}

/// How far tempesta-rs implements a directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Implemented: accepted and applied.
    Supported,
    /// Known from Tempesta FW but not implemented: refused with `not supported by tempesta-rs
    /// yet` unless [`Options::accept_unsupported`](super::Options::accept_unsupported).
    NotYetSupported,
}

/// `max_args` meaning "no upper bound".
pub const MANY: u16 = u16::MAX;

/// One directive of the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectiveSpec {
    /// The name as written in the configuration.
    pub name: &'static str,
    /// Where it may appear.
    pub contexts: Contexts,
    /// Statement or block.
    pub shape: Shape,
    /// Fewest positional arguments.
    pub min_args: u16,
    /// Most positional arguments ([`MANY`]: unbounded).
    pub max_args: u16,
    /// Accepted options.
    pub options: OptionSpec,
    /// May appear more than once in the same block.
    pub repeatable: bool,
    /// Its first argument must be unique among the same directives of the block (vhost names...).
    pub unique_name: bool,
    /// The context of its children, for blocks.
    pub children: Option<Context>,
    /// Implementation level.
    pub support: Support,
}

impl DirectiveSpec {
    const fn new(name: &'static str, contexts: Contexts, min: u16, max: u16) -> Self {
        DirectiveSpec {
            name,
            contexts,
            shape: Shape::Statement,
            min_args: min,
            max_args: max,
            options: OptionSpec::None,
            repeatable: false,
            unique_name: false,
            children: None,
            support: Support::NotYetSupported,
        }
    }

    const fn block(self, children: Context) -> Self {
        DirectiveSpec {
            shape: Shape::Block,
            children: Some(children),
            ..self
        }
    }

    const fn either(self, children: Context) -> Self {
        DirectiveSpec {
            shape: Shape::Either,
            children: Some(children),
            ..self
        }
    }

    const fn opts(self, keys: &'static [&'static str]) -> Self {
        DirectiveSpec {
            options: OptionSpec::Keys(keys),
            ..self
        }
    }

    const fn any_opts(self) -> Self {
        DirectiveSpec {
            options: OptionSpec::Any,
            ..self
        }
    }

    const fn repeat(self) -> Self {
        DirectiveSpec {
            repeatable: true,
            ..self
        }
    }

    const fn unique(self) -> Self {
        DirectiveSpec {
            unique_name: true,
            ..self
        }
    }

    /// Marks the entry as implemented by tempesta-rs.
    #[must_use]
    pub const fn supported(self) -> Self {
        DirectiveSpec {
            support: Support::Supported,
            ..self
        }
    }

    /// The context of this block's children when it appears in `parent` (`frang_limits` of a
    /// vhost or location is [`Context::FrangVhost`]).
    pub fn child_context(&self, parent: Context) -> Option<Context> {
        match self.children {
            Some(Context::FrangGlobal) if parent != Context::Global => Some(Context::FrangVhost),
            c => c,
        }
    }
}

const fn d(name: &'static str, contexts: Contexts, min: u16, max: u16) -> DirectiveSpec {
    DirectiveSpec::new(name, contexts, min, max)
}

use self::Contexts as C;

/// Every directive tempesta-rs knows, Tempesta FW's defaults noted where they matter.
pub static DIRECTIVES: &[DirectiveSpec] = &[
    // --- Listeners and clients (sock_clnt.c, http) ---
    // `listen 80` is the default when absent.
    d("listen", C::G, 1, 1)
        .opts(&["proto"])
        .repeat()
        .supported(),
    d("keepalive_timeout", C::G, 1, 1).supported(), // 75
    d("max_concurrent_streams", C::G, 1, 1),        // 100
    d("client_mem", C::G, 1, 2).supported(),        // 500M 1G
    d("client_lru_size", C::G, 1, 1).supported(),   // 8000 (frang_clients here)
    d("client_tbl_size", C::G, 1, 1).supported(),   // 16M
    d("client_db", C::G, 1, 1).supported(),         // accepted, not used
    d("http_max_header_list_size", C::G, 1, 1).supported(), // 16384
    d("client_ws_timeout", C::G, 1, 1).supported(), // 3600
    // --- Server groups and schedulers (sock_srv.c) ---
    d("srv_group", C::G, 1, 1)
        .block(Context::SrvGroup)
        .repeat()
        .unique()
        .supported(),
    d("server", C::G_SG, 1, 1)
        .opts(&["conns_n", "weight"])
        .repeat()
        .supported(),
    // ratio static; the other schedulers are refused by the semantic check (strict mode).
    d("sched", C::G_SG, 1, 4)
        .opts(&["past", "rate", "ahead"])
        .supported(),
    d("server_queue_size", C::G_SG, 1, 1).supported(), // 1000
    d("server_forward_timeout", C::G_SG, 1, 1).supported(), // 60
    d("server_forward_retries", C::G_SG, 1, 1).supported(), // 5
    d("server_retry_nonidempotent", C::G_SG, 0, 0).supported(),
    d("server_connect_retries", C::G_SG, 1, 1).supported(), // 10
    d("health", C::G_SG, 1, 1).supported(),
    d("sticky_sessions", C::SG, 0, 1),
    d("grace_shutdown_time", C::G, 1, 1).supported(),
    // --- Health monitoring (apm.c) ---
    d("apm_stats", C::G, 0, 0).opts(&["window", "scale"]),
    d("server_failover_http", C::G, 3, 3).repeat().supported(),
    d("health_stat", C::G, 1, MANY).supported(),
    d("health_stat_server", C::G, 1, MANY).supported(),
    d("health_check", C::G, 1, 1)
        .block(Context::HealthCheck)
        .repeat()
        .unique()
        .supported(),
    d("request", C::HC, 1, 1).supported(),
    d("request_url", C::HC, 1, 1).supported(),
    d("resp_code", C::HC, 1, MANY).supported(),
    d("resp_crc32", C::HC, 1, 1).supported(),
    d("timeout", C::HC, 1, 1).supported(),
    // --- HTTP processing (http.c) ---
    d("block_action", C::G, 2, 3).repeat().supported(),
    d("response_body", C::G, 2, 2).repeat().supported(),
    d("whitelist_mark", C::G, 1, MANY).repeat().supported(),
    d("http_uri_brange", C::G, 1, MANY).supported(),
    d("http_token_brange", C::G, 1, MANY).supported(),
    d("http_qetoken_brange", C::G, 1, MANY).supported(),
    d("http_nctl_brange", C::G, 1, MANY).supported(),
    d("http_ctext_vchar_brange", C::G, 1, MANY).supported(),
    d("http_xff_brange", C::G, 1, MANY).supported(),
    d("http_cookie_brange", C::G, 1, MANY).supported(),
    d("http_etag_brange", C::G, 1, MANY).supported(),
    // --- Access log (access_log.c) ---
    d("access_log", C::G, 1, MANY)
        .opts(&["logger_config"])
        .repeat()
        .supported(),
    d("mmap_log_buffer_size", C::G, 1, 1).supported(), // 1M
    // --- Cache (cache.c, vhost.c) ---
    d("cache", C::G, 1, 1).supported(), // 2
    d("cache_methods", C::G, 1, MANY).supported(),
    d("cache_size", C::G, 1, 1).supported(),
    d("cache_db", C::G, 1, 1).supported(), // accepted, not used
    d("cache_ttl", C::G, 1, 1).supported(),
    d("cache_purge", C::G, 0, 1).supported(),
    d("cache_purge_acl", C::G, 1, MANY).repeat().supported(),
    d("cache_bypass", C::G_V_L, 2, MANY).repeat().supported(),
    d("cache_fulfill", C::G_V_L, 2, MANY).repeat().supported(),
    d("cache_resp_hdr_del", C::G_V_L, 1, MANY)
        .repeat()
        .supported(),
    d("cache_control_ignore", C::G_V_L, 1, MANY)
        .repeat()
        .supported(),
    d("cache_use_stale", C::G_V_L, 1, MANY).supported(),
    // --- Vhosts, locations, headers (vhost.c) ---
    d("vhost", C::G, 1, 1)
        .block(Context::Vhost)
        .repeat()
        .unique()
        .supported(),
    d("location", C::G_V, 2, 2)
        .block(Context::Location)
        .repeat()
        .supported(),
    // `backup=`: the group requests go to while no server of the main one is up.
    d("proxy_pass", C::V_L, 1, 1).opts(&["backup"]).supported(),
    d("hdr_via", C::G, 1, 1).supported(),
    d("http_post_validate", C::G_V_L, 0, 0),
    d("nonidempotent", C::G_V_L, 3, 3).repeat().supported(),
    d("req_hdr_add", C::G_V_L, 1, 2).repeat().supported(),
    d("req_hdr_set", C::G_V_L, 1, 2).repeat().supported(),
    d("resp_hdr_add", C::G_V_L, 1, 2).repeat().supported(),
    d("resp_hdr_set", C::G_V_L, 1, 2).repeat().supported(),
    // --- TLS (vhost.c, tls.c) ---
    d("tls_certificate", C::G_V, 1, 1).repeat(),
    d("tls_certificate_key", C::G_V, 1, 1).repeat(),
    d("tls_tickets", C::G_V, 0, MANY)
        .opts(&["secret", "lifetime"])
        .repeat(),
    d("tls_match_any_server_name", C::G_V, 0, 1).repeat(),
    // --- Sticky sessions (http_sess_conf.c) ---
    d("sticky", C::G_V, 0, MANY)
        .either(Context::Sticky)
        .any_opts()
        .repeat(),
    d("cookie", C::ST, 0, MANY).any_opts(),
    d("js_challenge", C::ST, 0, MANY).any_opts(),
    d("secret", C::ST, 1, 1),
    d("sess_lifetime", C::ST, 1, 1),
    d("learn", C::ST, 0, MANY).any_opts(),
    // --- Frang limits (vhost.c, http_limits.c) ---
    // Global, per vhost and per location (the per-request limits only below the top level).
    d("frang_limits", C::G_V_L, 0, 0)
        .block(Context::FrangGlobal)
        .repeat()
        .supported(),
    d("ip_block", C::FG, 0, 1).supported(),
    d("request_rate", C::FG, 1, 1).supported(),
    d("request_burst", C::FG, 1, 1).supported(),
    d("tcp_connection_rate", C::FG, 1, 1).supported(),
    d("tcp_connection_burst", C::FG, 1, 1).supported(),
    d("concurrent_tcp_connections", C::FG, 1, 1).supported(), // 1000
    d("tls_connection_rate", C::FG, 1, 1),
    d("tls_connection_burst", C::FG, 1, 1),
    d("tls_incomplete_connection_rate", C::FG, 1, 1),
    d("client_header_timeout", C::FG, 1, 1).supported(),
    d("client_body_timeout", C::FG, 1, 1).supported(),
    d("http_header_chunk_cnt", C::FG, 1, 1).supported(),
    d("http_body_chunk_cnt", C::FG, 1, 1).supported(),
    d("http_hdr_len", C::FG, 1, 1).supported(),
    d("http_header_cnt", C::FG, 1, 1).supported(), // 50
    d("http_uri_len", C::F, 1, 1).supported(),
    d("http_body_len", C::F, 1, 1).supported(),
    d("http_strict_host_checking", C::F, 0, 1).supported(),
    d("http_ct_required", C::F, 0, 1).supported(),
    d("http_trailer_split_allowed", C::F, 0, 1).supported(),
    d("http_method_override_allowed", C::F, 0, 1).supported(),
    d("http_methods", C::F, 1, MANY).supported(), // get post head
    d("http_ct_vals", C::F, 1, MANY).supported(),
    d("http_resp_code_block", C::F_L, 3, MANY).supported(),
    // --- HTTP tables (http_tbl.c): the block holds rules only ---
    // The main chain's `-> VHOST;`; named chains and other rules are refused by the semantic
    // checks (strict mode).
    d("http_chain", C::G, 0, 1)
        .block(Context::HttpChain)
        .repeat()
        .unique()
        .supported(),
];

/// The schema entry of directive `name`.
pub fn lookup(name: &[u8]) -> Option<&'static DirectiveSpec> {
    DIRECTIVES.iter().find(|s| s.name.as_bytes() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_identifiers() {
        for (i, a) in DIRECTIVES.iter().enumerate() {
            assert!(
                super::super::parser::is_identifier(a.name.as_bytes()),
                "{}",
                a.name
            );
            for b in DIRECTIVES.iter().skip(i + 1) {
                assert_ne!(a.name, b.name, "duplicate schema entry");
            }
            assert!(a.min_args <= a.max_args, "{}", a.name);
            assert_eq!(
                a.children.is_some(),
                a.shape != Shape::Statement,
                "{}",
                a.name
            );
        }
    }

    #[test]
    fn supported_directives() {
        let supported: Vec<_> = DIRECTIVES
            .iter()
            .filter(|s| s.support == Support::Supported)
            .map(|s| s.name)
            .collect();
        assert_eq!(
            supported,
            [
                "listen",
                "keepalive_timeout",
                "client_mem",
                "client_lru_size",
                "client_tbl_size",
                "client_db",
                "http_max_header_list_size",
                "client_ws_timeout",
                "srv_group",
                "server",
                "sched",
                "server_queue_size",
                "server_forward_timeout",
                "server_forward_retries",
                "server_retry_nonidempotent",
                "server_connect_retries",
                "health",
                "grace_shutdown_time",
                "server_failover_http",
                "health_stat",
                "health_stat_server",
                "health_check",
                "request",
                "request_url",
                "resp_code",
                "resp_crc32",
                "timeout",
                "block_action",
                "response_body",
                "whitelist_mark",
                "http_uri_brange",
                "http_token_brange",
                "http_qetoken_brange",
                "http_nctl_brange",
                "http_ctext_vchar_brange",
                "http_xff_brange",
                "http_cookie_brange",
                "http_etag_brange",
                "access_log",
                "mmap_log_buffer_size",
                "cache",
                "cache_methods",
                "cache_size",
                "cache_db",
                "cache_ttl",
                "cache_purge",
                "cache_purge_acl",
                "cache_bypass",
                "cache_fulfill",
                "cache_resp_hdr_del",
                "cache_control_ignore",
                "cache_use_stale",
                "vhost",
                "location",
                "proxy_pass",
                "hdr_via",
                "nonidempotent",
                "req_hdr_add",
                "req_hdr_set",
                "resp_hdr_add",
                "resp_hdr_set",
                "frang_limits",
                "ip_block",
                "request_rate",
                "request_burst",
                "tcp_connection_rate",
                "tcp_connection_burst",
                "concurrent_tcp_connections",
                "client_header_timeout",
                "client_body_timeout",
                "http_header_chunk_cnt",
                "http_body_chunk_cnt",
                "http_hdr_len",
                "http_header_cnt",
                "http_uri_len",
                "http_body_len",
                "http_strict_host_checking",
                "http_ct_required",
                "http_trailer_split_allowed",
                "http_method_override_allowed",
                "http_methods",
                "http_ct_vals",
                "http_resp_code_block",
                "http_chain",
            ]
        );
    }

    #[test]
    fn reference_directives_are_known() {
        for name in [
            "listen",
            "keepalive_timeout",
            "client_mem",
            "http_max_header_list_size",
            "max_concurrent_streams",
            "client_ws_timeout",
            "server",
            "sched",
            "server_queue_size",
            "server_forward_timeout",
            "server_forward_retries",
            "server_retry_nonidempotent",
            "server_connect_retries",
            "health",
            "grace_shutdown_time",
            "nonidempotent",
            "vhost",
            "location",
            "proxy_pass",
            "req_hdr_add",
            "req_hdr_set",
            "resp_hdr_add",
            "resp_hdr_set",
            "hdr_via",
            "http_chain",
            "cache",
            "cache_methods",
            "cache_size",
            "cache_ttl",
            "cache_bypass",
            "cache_fulfill",
            "cache_resp_hdr_del",
            "cache_control_ignore",
            "cache_use_stale",
            "cache_purge",
            "cache_purge_acl",
            "frang_limits",
            "ip_block",
            "request_rate",
            "request_burst",
            "tcp_connection_rate",
            "tcp_connection_burst",
            "concurrent_tcp_connections",
            "tls_connection_rate",
            "tls_connection_burst",
            "tls_incomplete_connection_rate",
            "client_header_timeout",
            "client_body_timeout",
            "http_header_chunk_cnt",
            "http_body_chunk_cnt",
            "http_hdr_len",
            "http_header_cnt",
            "http_uri_len",
            "http_body_len",
            "http_strict_host_checking",
            "http_ct_required",
            "http_methods",
            "http_ct_vals",
            "http_resp_code_block",
            "http_trailer_split_allowed",
            "http_method_override_allowed",
            "block_action",
            "whitelist_mark",
            "tls_certificate",
            "tls_certificate_key",
            "tls_tickets",
            "tls_match_any_server_name",
        ] {
            assert!(lookup(name.as_bytes()).is_some(), "{name}");
        }
    }
}
