// SPDX-License-Identifier: GPL-2.0

//! Reading the configuration file and turning it into what the module runs.
//!
//! All of the language (syntax, schema, values) is the `config` crate's, shared with the host
//! tool `tempesta-rs check`; this file only reads the file, allocates the buffers the parser
//! asks for and copies the result out into kernel-owned memory, so the file and the parse tree
//! are freed before anything starts. Process context (a sysctl write): GFP_KERNEL.

use core::net::SocketAddr;

use kernel::prelude::*;
use kernel::str::CStr;

use kernel::sync::Arc;

use crate::buf::copy;
use crate::cache::cc::CcIgnore;
use crate::cache::config::CacheMode;
use crate::cache::fresh::StaleCodes;
use crate::cache::invalidate::{Cidr, PurgeMode};
use crate::cache::method::MethodSet;
use crate::cache::rules::MatchOp;
use crate::cached::{CacheCfg, Policy, RuleCfg};
use crate::config;
use crate::sys;
use crate::tables::{Tables, TablesError};

/// Largest configuration file read. The parser has the same bound.
const MAX_FILE: usize = config::MAX_SOURCE_LEN;

/// One listener of the configuration, with the line that asked for it (for messages about
/// failures that only show when the socket is opened).
pub(crate) struct ListenCfg {
    pub(crate) addr: SocketAddr,
    pub(crate) line: u32,
}

/// One upstream server.
pub(crate) struct ServerCfg {
    pub(crate) addr: SocketAddr,
    pub(crate) conns_n: u32,
    pub(crate) weight: u32,
}

/// One server group (`srv_group`, or the implicit `default` of top-level `server` lines).
pub(crate) struct GroupCfg {
    pub(crate) name: KVec<u8>,
    pub(crate) servers: KVec<ServerCfg>,
    /// 0: unlimited.
    pub(crate) queue_size: u32,
    /// Seconds; 0: unlimited.
    pub(crate) forward_timeout: u32,
    pub(crate) forward_retries: u32,
    /// `server_retry_nonidempotent`.
    pub(crate) retry_nonidempotent: bool,
    /// `sched hash` (else `sched ratio`).
    pub(crate) hash: bool,
    /// `sched ratio dynamic|predict`.
    pub(crate) dynamic: Option<config::upstream::Dynamic>,
    /// The servers' health monitor (`health NAME`).
    pub(crate) health: Option<HealthCfg>,
}

/// A health monitor (`health_check NAME { ... }`, or the built-in `auto`).
pub(crate) struct HealthCfg {
    /// The probe request, escapes decoded, checked by the HTTP parser.
    pub(crate) request: KVec<u8>,
    pub(crate) method: crate::parser::Method,
    /// The probe lets its connection persist (an HTTP/1.0 one without keep-alive does not:
    /// the connection is closed after its response).
    pub(crate) keep_alive: bool,
    /// `request_url`: client requests for it stand in for a probe.
    pub(crate) url: KVec<u8>,
    pub(crate) monitor: crate::sched::health::Monitor,
}

impl HealthCfg {
    fn new(
        path: &str,
        tree: &config::Tree<'_, '_>,
        hc: &config::health::HealthCheck<'_>,
    ) -> Result<Self> {
        let mut buf = KVec::from_elem(0u8, config::health::MAX_REQUEST, GFP_KERNEL)?;
        let raw = hc.request.unwrap_or(config::health::DEFAULT_REQUEST);
        let decoded = match hc.request {
            Some(r) => config::health::decode_request(r, &mut buf).ok_or(EINVAL)?,
            None => raw,
        };
        let (method, keep_alive) = probe_method(decoded).ok_or_else(|| {
            let node = tree
                .top_level()
                .find(|n| n.line() == hc.line)
                .unwrap_or(&config::Node::EMPTY);
            report(
                path,
                &tree.error(
                    node,
                    config::ErrorKind::Message(
                        "the probe 'request' is not one complete HTTP/1.x request head without \
                         a body",
                    ),
                ),
            )
        })?;
        let crc = match hc.crc {
            config::health::Crc::Any => crate::sched::health::Crc::Any,
            config::health::Crc::Auto => crate::sched::health::Crc::Auto,
            config::health::Crc::Is(v) => crate::sched::health::Crc::Is(v),
        };
        Ok(HealthCfg {
            request: copy(decoded)?,
            method,
            keep_alive,
            url: copy(hc.url)?,
            monitor: crate::sched::health::Monitor {
                codes: hc.codes,
                crc,
                secs: hc.secs,
            },
        })
    }
}

/// The method of a probe request, if the parser reads it as one whole request head with no
/// body and nothing after it.
///
/// An HTTP/1.1 probe without `Host` is taken as written (Tempesta FW's own example is
/// `GET / HTTP/1.1\r\n\r\n`; the operator knows what the servers accept): it is checked with a
/// `Host` added, and sent without.
fn probe_method(req: &[u8]) -> Option<(crate::parser::Method, bool)> {
    use crate::http::Step;
    let parse =
        |req: &[u8]| -> Result<Option<(crate::parser::Method, bool)>, crate::parser::Error> {
            let mut r = crate::http::Reader::requests(crate::parser::Limits::NONE);
            let mut head = false;
            for _ in 0..4 {
                match r.poll(req, 0) {
                    Step::Head { end, .. } => head = end == req.len() as u64,
                    Step::End if head => {
                        let info = r.request();
                        let ok = info.body == crate::parser::BodyKind::None;
                        return Ok(ok.then_some((info.method, info.keep_alive)));
                    }
                    Step::Error(e) => return Err(e),
                    _ => return Ok(None),
                }
            }
            Ok(None)
        };
    match parse(req) {
        Ok(r) => r,
        Err(crate::parser::Error::MissingHost) => {
            let line_end = req.windows(2).position(|w| w == b"\r\n")?.checked_add(2)?;
            let mut with_host = KVec::new();
            with_host
                .extend_from_slice(req.get(..line_end)?, GFP_KERNEL)
                .ok()?;
            with_host
                .extend_from_slice(b"Host: probe\r\n", GFP_KERNEL)
                .ok()?;
            with_host
                .extend_from_slice(req.get(line_end..)?, GFP_KERNEL)
                .ok()?;
            parse(&with_host).ok().flatten()
        }
        Err(_) => None,
    }
}

/// One vhost, or one `location` of a vhost, with its settings resolved (what the location does
/// not write, it has from its vhost). The request path indexes these alike: a request's vhost
/// index becomes its location's once the location is matched.
pub(crate) struct VhostCfg {
    /// The vhost's name (a location's is its vhost's: routing and the access log use it).
    pub(crate) name: KVec<u8>,
    /// Its `proxy_pass` group (an index into [`Config::groups`]).
    pub(crate) group: Option<usize>,
    /// Its `proxy_pass ... backup=` group: used while no server of `group` is up.
    pub(crate) backup: Option<usize>,
    /// Its own `frang_limits` (the enclosing levels' with its values on top), if the vhost or
    /// location has the block.
    pub(crate) frang: Option<config::Frang>,
    /// Its `http_ct_vals` (the innermost level's).
    pub(crate) ct_vals: KVec<KVec<u8>>,
    /// A vhost's locations, in match order (empty for a location).
    pub(crate) locations: KVec<LocCfg>,
    /// `req_hdr_add`/`req_hdr_set` (the innermost level's list).
    pub(crate) req_mods: ModsCfg,
    /// `resp_hdr_add`/`resp_hdr_set` (the innermost level's list).
    pub(crate) resp_mods: ModsCfg,
    /// `nonidempotent` (the innermost level's list).
    pub(crate) nonidempotent: KVec<NipCfg>,
    /// For a location: its block's node index in the parse tree, which exists only while the
    /// configuration loads (the cache settings are read through it then).
    pub(crate) loc_node: Option<u32>,
}

/// One list of header changes, rendered for `http::HdrMods`.
#[derive(Default)]
pub(crate) struct ModsCfg {
    /// Names `*_hdr_set` removes, each followed by `\n`.
    pub(crate) drop: KVec<u8>,
    /// `NAME: VALUE\r\n` lines to add.
    pub(crate) add: KVec<u8>,
}

impl ModsCfg {
    /// The request (`resp: false`) or response changes of `scope`.
    fn of(
        path: &str,
        tree: &config::Tree<'_, '_>,
        scope: config::Scope<'_>,
        resp: bool,
    ) -> Result<Self> {
        let mut m = ModsCfg::default();
        let mut res = Ok(());
        let mut value = KVec::new();
        config::hdrmod::hdr_mods(tree, scope, resp, &mut |h| {
            if res.is_err() {
                return;
            }
            res = m.push(&h, &mut value);
        })
        .map_err(|e| report(path, &e))?;
        res.map(|()| m)
    }

    fn push(&mut self, h: &config::hdrmod::HdrMod<'_>, value: &mut KVec<u8>) -> Result {
        if !h.append {
            self.drop.extend_from_slice(h.name, GFP_KERNEL)?;
            self.drop.push(b'\n', GFP_KERNEL)?;
        }
        let Some(raw) = h.value else {
            return Ok(());
        };
        crate::buf::clear(value);
        value.extend_from_slice(raw, GFP_KERNEL)?;
        let v = match h.escaped {
            // Unescaping never lengthens the text.
            true => config::unescape(raw, value).ok_or(EINVAL)?,
            false => raw,
        };
        for part in [h.name, &b": "[..], v, &b"\r\n"[..]] {
            self.add.extend_from_slice(part, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// A copy (for the proxy's own vhost list).
    pub(crate) fn copy(&self) -> Result<Self> {
        Ok(ModsCfg {
            drop: copy(&self.drop)?,
            add: copy(&self.add)?,
        })
    }
}

/// One `nonidempotent METHOD OP ARG`.
pub(crate) struct NipCfg {
    /// `None`: any method.
    pub(crate) method: Option<KVec<u8>>,
    pub(crate) op: MatchOp,
    pub(crate) arg: KVec<u8>,
}

impl NipCfg {
    /// Whether a request with `method` for `path` (path and query) matches.
    pub(crate) fn matches(&self, method: &[u8], path: &[u8]) -> bool {
        self.method
            .as_ref()
            .is_none_or(|m| m.as_slice().eq_ignore_ascii_case(method))
            && self.op.matches(&self.arg, path)
    }

    /// The `nonidempotent` lines of `scope`.
    fn of(path: &str, tree: &config::Tree<'_, '_>, scope: config::Scope<'_>) -> Result<KVec<Self>> {
        let mut out = KVec::new();
        let mut res = Ok(());
        config::nonidempotent::nonidempotent(tree, scope, &mut |l| {
            if res.is_ok() {
                res = NipCfg::copy_of(&l).and_then(|n| Ok(out.push(n, GFP_KERNEL)?));
            }
        })
        .map_err(|e| report(path, &e))?;
        res.map(|()| out)
    }

    fn copy_of(l: &config::nonidempotent::NonIdempotent<'_>) -> Result<Self> {
        Self::new(l.method, match_op(l.op), l.arg)
    }

    fn new(method: Option<&[u8]>, op: MatchOp, arg: &[u8]) -> Result<Self> {
        Ok(NipCfg {
            method: method.map(copy).transpose()?,
            op,
            arg: copy(arg)?,
        })
    }

    /// A copy (for the proxy's own vhost list).
    pub(crate) fn copy(&self) -> Result<Self> {
        Self::new(self.method.as_deref(), self.op, &self.arg)
    }
}

/// The cache crate's matcher for a configuration operator.
fn match_op(op: config::cache::RuleOp) -> MatchOp {
    match op {
        config::cache::RuleOp::Any => MatchOp::Any,
        config::cache::RuleOp::Eq => MatchOp::Eq,
        config::cache::RuleOp::Prefix => MatchOp::Prefix,
        config::cache::RuleOp::Suffix => MatchOp::Suffix,
    }
}

/// One `location OP ARG` of a vhost.
pub(crate) struct LocCfg {
    pub(crate) op: MatchOp,
    pub(crate) arg: KVec<u8>,
    /// Its settings: an index into [`Config::vhosts`].
    pub(crate) scope: usize,
}

/// The running configuration, as far as the module implements it.
pub(crate) struct Config {
    pub(crate) listen: KVec<ListenCfg>,
    pub(crate) groups: KVec<GroupCfg>,
    pub(crate) vhosts: KVec<VhostCfg>,
    /// The HTTP tables; `None`: no `http_chain`, every request goes to the default vhost.
    pub(crate) tables: Option<Arc<Tables>>,
    /// The group requests go to without HTTP tables (the default vhost's `proxy_pass`);
    /// `None`: every request gets 404.
    pub(crate) default_group: Option<usize>,
    /// The default vhost (an index into `vhosts`).
    pub(crate) default_vhost: Option<usize>,
    /// `http_ct_vals` of the global `frang_limits` (empty: any type).
    pub(crate) ct_vals: KVec<KVec<u8>>,
    /// `whitelist_mark`: connections with one of these marks bypass frang.
    pub(crate) whitelist: KVec<u32>,
    /// Seconds.
    pub(crate) keepalive_timeout: u32,
    /// `client_ws_timeout`, seconds.
    pub(crate) ws_timeout: u32,
    /// `http_max_header_list_size` bytes (0: no limit).
    pub(crate) header_list_size: u32,
    /// `client_mem`.
    pub(crate) client_mem: config::ClientMem,
    /// `response_body` pages (`None`: error responses have no body).
    pub(crate) pages: Option<Arc<ErrPages>>,
    /// `http_*_brange`.
    pub(crate) alphabets: crate::filter::brange::Alphabets,
    /// `client_lru_size` / `client_tbl_size`: the frang client table's addresses.
    pub(crate) clients: Option<usize>,
    /// `health_stat` and `health_stat_server`.
    pub(crate) health_stat: config::health::StatCodes,
    pub(crate) health_stat_server: config::health::StatCodes,
    /// The `Via` agent name.
    pub(crate) via: KVec<u8>,
    /// The default vhost's name (access log lines name it).
    pub(crate) vhost: KVec<u8>,
    /// `access_log` targets and `mmap_log_buffer_size`.
    pub(crate) access_log: config::AccessLog,
    /// The global `frang_limits`, if the configuration has the block.
    pub(crate) frang: Option<config::Frang>,
    /// `block_action`.
    pub(crate) block: config::BlockActions,
    /// The `cache*` directives.
    pub(crate) cache: CacheCfg,
    /// `server_failover_http`: what makes a monitored server unhealthy.
    pub(crate) failover: KVec<crate::sched::health::Rule>,
    /// `grace_shutdown_time`, seconds.
    pub(crate) grace_shutdown: u32,
}

/// A file read whole into vmalloc()ed memory by glue.c, freed on drop.
struct FileBuf {
    ptr: *mut kernel::ffi::c_void,
    len: usize,
}

impl FileBuf {
    fn read(path: &CStr) -> Result<Self> {
        Self::read_max(path, MAX_FILE)
    }

    /// Reads `path` whole if it has at most `max` bytes (`EFBIG` otherwise).
    fn read_max(path: &CStr, max: usize) -> Result<Self> {
        let mut ptr = core::ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: `path` is NUL-terminated; `ptr` and `len` are valid out pointers. Process
        // context, as kernel_read_file_from_path requires.
        let r = unsafe { sys::tfw_glue_read_file(path.as_char_ptr(), max, &mut ptr, &mut len) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(FileBuf { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        if self.ptr.is_null() || self.len == 0 {
            return &[];
        }
        // SAFETY: glue.c returned a buffer of `len` readable bytes that lives until `drop`.
        unsafe { core::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for FileBuf {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from tfw_glue_read_file (vmalloc, or NULL) and is freed once.
        unsafe { sys::tfw_glue_free_file(self.ptr) };
    }
}

/// Largest `response_body` page: it is copied into the send queue of each error response.
const MAX_PAGE: usize = 64 * 1024;

/// The `response_body` pages: the statuses each is for and its bytes, in file order.
pub(crate) struct ErrPages {
    pub(crate) pages: KVec<(config::errpage::PageKey, KVVec<u8>)>,
}

/// Reads the files of the `response_body` directives (a file that cannot be read, or is over
/// [`MAX_PAGE`], is an error naming its directive).
fn err_pages(path: &str, tree: &config::Tree<'_, '_>) -> Result<Option<Arc<ErrPages>>> {
    use config::errpage::{response_bodies, ResponseBody, MAX_RESPONSE_BODIES};
    let mut dirs = KVec::from_elem(ResponseBody::EMPTY, MAX_RESPONSE_BODIES, GFP_KERNEL)?;
    let n = response_bodies(tree, &mut dirs).map_err(|e| report(path, &e))?;
    if n == 0 {
        return Ok(None);
    }
    let mut pages = KVec::with_capacity(n, GFP_KERNEL)?;
    for d in dirs.iter().take(n) {
        let mut cpath = KVec::with_capacity(d.path.len().saturating_add(1), GFP_KERNEL)?;
        cpath.extend_from_slice(d.path, GFP_KERNEL)?;
        cpath.push(0, GFP_KERNEL)?;
        let file = CStr::from_bytes_with_nul(&cpath)
            .map_err(|_| EINVAL)
            .and_then(|c| FileBuf::read_max(c, MAX_PAGE))
            .map_err(|e| {
                let kind = config::ErrorKind::ReadFile(d.path, e.to_errno());
                report(path, &tree.error(&d.node, kind))
            })?;
        let mut body = KVVec::with_capacity(file.bytes().len(), GFP_KERNEL)?;
        body.extend_from_slice(file.bytes(), GFP_KERNEL)?;
        pages.push((d.key, body), GFP_KERNEL)?;
    }
    Ok(Some(Arc::new(ErrPages { pages }, GFP_KERNEL)?))
}

/// Logs one configuration error the way operators grep for it and returns EINVAL.
fn report(path: &str, e: &config::Error<'_>) -> Error {
    pr_err!("config error: {}\n", e.with_file(path));
    EINVAL
}

/// Owned copies of byte strings (lists of the configuration: `http_ct_vals`).
pub(crate) fn copy_vals<T: core::ops::Deref<Target = [u8]>>(vals: &[T]) -> Result<KVec<KVec<u8>>> {
    let mut out = KVec::with_capacity(vals.len(), GFP_KERNEL)?;
    for v in vals {
        let mut c = KVec::new();
        c.extend_from_slice(v, GFP_KERNEL)?;
        out.push(c, GFP_KERNEL)?;
    }
    Ok(out)
}

/// Reads, parses and validates the configuration at `cpath`.
///
/// Every error is logged (one line: file, line, directive, reason) and returned; nothing of
/// the running state is touched here.
/// Boxed and out of line: the configuration is kilobytes, and the sysctl write that loads it
/// then builds the proxy on the same 16 KiB kernel stack (see `Proxy::new`).
#[inline(never)]
pub(crate) fn load(cpath: &CStr) -> Result<KBox<Config>> {
    let path = cpath.to_str().unwrap_or("<non-UTF-8 path>");
    let file = FileBuf::read(cpath).inspect_err(|e| {
        pr_err!(
            "config error: cannot read {}: error {}\n",
            path,
            e.to_errno()
        );
    })?;
    let src = file.bytes();

    let sizes = config::measure(src).map_err(|e| report(path, &e))?;
    let mut nodes = KVVec::from_elem(config::Node::EMPTY, sizes.nodes, GFP_KERNEL)?;
    let mut tokens = KVVec::from_elem(config::Token::EMPTY, sizes.tokens, GFP_KERNEL)?;
    let tree = config::parse(src, &mut nodes, &mut tokens).map_err(|e| report(path, &e))?;
    config::validate(&tree, &config::Options::STRICT).map_err(|e| report(path, &e))?;

    let mut listen = KVec::new();
    for l in config::listeners_with_lines(&tree) {
        let (line, l) = l.map_err(|e| report(path, &e))?;
        listen.push(ListenCfg { addr: l.addr, line }, GFP_KERNEL)?;
    }
    if listen.is_empty() {
        // Tempesta's default: `listen 80`.
        let addr = config::listen::DEFAULT_LISTEN.addr;
        listen.push(ListenCfg { addr, line: 0 }, GFP_KERNEL)?;
    }

    let mut groups = KVec::new();
    for g in config::srv_groups(&tree) {
        let g = g.map_err(|e| report(path, &e))?;
        let mut name = KVec::new();
        name.extend_from_slice(g.name.as_bytes(), GFP_KERNEL)?;
        let mut servers = KVec::new();
        for s in config::servers(&tree, &g) {
            let s = s.map_err(|e| report(path, &e))?;
            servers.push(
                ServerCfg {
                    addr: s.addr,
                    conns_n: s.conns_n,
                    weight: s.weight,
                },
                GFP_KERNEL,
            )?;
        }
        let health = match config::upstream::group_health(&tree, &g) {
            Ok(Some(hc)) => Some(HealthCfg::new(path, &tree, &hc)?),
            Ok(None) => None,
            Err(e) => return Err(report(path, &e)),
        };
        groups.push(
            GroupCfg {
                name,
                servers,
                queue_size: g.params.queue_size,
                forward_timeout: g.params.forward_timeout,
                forward_retries: g.params.forward_retries,
                retry_nonidempotent: g.params.retry_nonidempotent,
                hash: g.params.sched == config::Sched::Hash,
                dynamic: match g.params.sched {
                    config::Sched::RatioDynamic(d) => Some(d),
                    _ => None,
                },
                health,
            },
            GFP_KERNEL,
        )?;
    }

    let mut vhosts = KVec::new();
    for v in config::vhosts(&tree) {
        let v = v.map_err(|e| report(path, &e))?;
        let mut name = KVec::new();
        name.extend_from_slice(v.name.as_bytes(), GFP_KERNEL)?;
        let group = v.proxy_pass.and_then(|g| group_index(&groups, g));
        let backup = v.backup.and_then(|g| group_index(&groups, g));
        let scope = config::Scope::vhost(v.name);
        vhosts.push(
            VhostCfg::new(path, &tree, scope, name, (group, backup))?,
            GFP_KERNEL,
        )?;
    }
    for i in 0..vhosts.len() {
        add_locations(path, &tree, &groups, &mut vhosts, i)?;
    }
    let tables = match Tables::build(src, &tree) {
        Ok(t) => t.map(|t| Arc::new(t, GFP_KERNEL)).transpose()?,
        Err(TablesError::Config(e)) => return Err(report(path, &e)),
        Err(TablesError::NoMem) => return Err(ENOMEM),
        Err(TablesError::Internal) => {
            pr_err!("config error: {}: HTTP tables: internal error\n", path);
            return Err(EINVAL);
        }
    };
    let mut default_vhost = None;
    let mut vhost = KVec::new();
    if let Some(vname) = config::default_vhost(&tree).map_err(|e| report(path, &e))? {
        vhost.extend_from_slice(vname.as_bytes(), GFP_KERNEL)?;
        default_vhost = vhosts
            .iter()
            .position(|v| v.name.as_slice().eq_ignore_ascii_case(vname.as_bytes()));
    }
    let default_group = default_vhost
        .and_then(|i| vhosts.get(i))
        .and_then(|v| v.group);
    let mut vals = [&b""[..]; config::frang::MAX_CT_VALS];
    let n = config::frang::ct_vals(&tree, &mut vals).map_err(|e| report(path, &e))?;
    let ct_vals = copy_vals(vals.get(..n).unwrap_or(&[]))?;
    let mut marks = [0u32; config::frang::MAX_WHITELIST_MARKS];
    let n = config::whitelist_marks(&tree, &mut marks).map_err(|e| report(path, &e))?;
    let mut whitelist = KVec::new();
    whitelist.extend_from_slice(marks.get(..n).unwrap_or(&[]), GFP_KERNEL)?;
    if n != 0 || tables.as_ref().is_some_and(|t| t.uses_marks()) {
        // SAFETY: reads a sysctl value.
        if !unsafe { sys::tfw_glue_fwmark_accept() } {
            pr_warn!(
                "{}: whitelist_mark and 'mark ==' rules see connection marks only with \
                 net.ipv4.tcp_fwmark_accept = 1 (tempesta.sh sets it)\n",
                path
            );
        }
    }

    let keepalive_timeout = config::keepalive_timeout(&tree).map_err(|e| report(path, &e))?;
    let ws_timeout = config::ws_timeout(&tree).map_err(|e| report(path, &e))?;
    let grace_shutdown =
        config::upstream::grace_shutdown_time(&tree).map_err(|e| report(path, &e))?;
    let header_list_size = config::max_header_list_size(&tree).map_err(|e| report(path, &e))?;
    let client_mem = config::client_mem(&tree).map_err(|e| report(path, &e))?;
    let pages = err_pages(path, &tree)?;
    let b = config::brange::branges(&tree).map_err(|e| report(path, &e))?;
    let ct = config::client_table(&tree).map_err(|e| report(path, &e))?;
    for n in tree.top_level().filter(|n| !n.is_rule()) {
        if let name @ (b"client_db" | b"cache_db") = tree.name(n) {
            pr_info!(
                "{}:{}: {}: tables are kept in memory here; the path is not used\n",
                path,
                n.line(),
                core::str::from_utf8(name).unwrap_or("?")
            );
        }
    }
    // Tempesta sizes its client table by addresses or by memory; the smaller one wins here.
    let by_mem = ct
        .tbl_size
        .map(|b| b as usize / core::mem::size_of::<crate::filter::ClientSlot>());
    let clients = match (ct.lru_size.map(|n| n as usize), by_mem) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let health_stat =
        config::health::stat_codes(&tree, b"health_stat").map_err(|e| report(path, &e))?;
    let health_stat_server =
        config::health::stat_codes(&tree, b"health_stat_server").map_err(|e| report(path, &e))?;
    // In config::brange::DIRECTIVES order.
    let [uri, token, qetoken, nctl, ctext_vchar, xff, cookie, etag] = b;
    let alphabets = crate::filter::brange::Alphabets {
        uri,
        token,
        qetoken,
        nctl,
        ctext_vchar,
        xff,
        cookie,
        etag,
    };
    let mut via = KVec::new();
    match config::hdr_via(&tree).map_err(|e| report(path, &e))? {
        Some(v) => via.extend_from_slice(v.as_bytes(), GFP_KERNEL)?,
        None => via.extend_from_slice(crate::http::rewrite::DEFAULT_VIA, GFP_KERNEL)?,
    }

    let cache = cache_cfg(path, &tree, &vhosts)?;
    let access_log = config::access_log(&tree).map_err(|e| report(path, &e))?;
    let frang = config::frang(&tree).map_err(|e| report(path, &e))?;
    let block = config::block_actions(&tree).map_err(|e| report(path, &e))?;
    let mut rules = [config::health::Failover::EMPTY; config::health::MAX_FAILOVER];
    let n = config::health::failover_rules(&tree, &mut rules).map_err(|e| report(path, &e))?;
    let mut failover = KVec::with_capacity(n, GFP_KERNEL)?;
    for r in rules.iter().take(n) {
        let rule = crate::sched::health::Rule {
            code: r.code,
            limit: r.limit,
            secs: r.secs,
        };
        failover.push(rule, GFP_KERNEL)?;
    }

    Ok(KBox::new(
        Config {
            listen,
            groups,
            vhosts,
            tables,
            default_group,
            default_vhost,
            ct_vals,
            whitelist,
            keepalive_timeout,
            ws_timeout,
            header_list_size,
            client_mem,
            pages,
            alphabets,
            health_stat,
            health_stat_server,
            clients,
            via,
            vhost,
            access_log,
            frang,
            block,
            cache,
            failover,
            grace_shutdown,
        },
        GFP_KERNEL,
    )?)
}

fn group_index(groups: &[GroupCfg], name: &str) -> Option<usize> {
    groups
        .iter()
        .position(|c| c.name.as_slice().eq_ignore_ascii_case(name.as_bytes()))
}

impl VhostCfg {
    /// The settings of `scope` (a vhost, or a location of one), named `name`, proxying to
    /// `group`; no locations yet.
    fn new(
        path: &str,
        tree: &config::Tree<'_, '_>,
        scope: config::Scope<'_>,
        name: KVec<u8>,
        (group, backup): (Option<usize>, Option<usize>),
    ) -> Result<Self> {
        let frang = config::frang::scope_frang(tree, scope).map_err(|e| report(path, &e))?;
        let mut vals = [&b""[..]; config::frang::MAX_CT_VALS];
        let n =
            config::frang::scope_ct_vals(tree, scope, &mut vals).map_err(|e| report(path, &e))?;
        Ok(VhostCfg {
            name,
            group,
            backup,
            frang,
            ct_vals: copy_vals(vals.get(..n).unwrap_or(&[]))?,
            locations: KVec::new(),
            req_mods: ModsCfg::of(path, tree, scope, false)?,
            resp_mods: ModsCfg::of(path, tree, scope, true)?,
            nonidempotent: NipCfg::of(path, tree, scope)?,
            loc_node: scope.location,
        })
    }
}

/// Appends the locations of vhost `vi` to `vhosts` (each with its settings resolved) and lists
/// them, in match order, in the vhost's `locations`. Not inlined: the location array is large
/// for a kernel stack frame.
#[inline(never)]
fn add_locations(
    path: &str,
    tree: &config::Tree<'_, '_>,
    groups: &[GroupCfg],
    vhosts: &mut KVec<VhostCfg>,
    vi: usize,
) -> Result {
    let Some(v) = vhosts.get(vi) else {
        return Ok(());
    };
    let Ok(vname) = core::str::from_utf8(&v.name) else {
        return Ok(());
    };
    let mut locs = [config::Location::NONE; config::MAX_LOCATIONS];
    let n = config::locations(tree, vname, &mut locs).map_err(|e| report(path, &e))?;
    let mut list = KVec::with_capacity(n, GFP_KERNEL)?;
    let mut scopes = KVec::with_capacity(n, GFP_KERNEL)?;
    for loc in locs.iter().take(n) {
        let scope = config::Scope::location(vname, loc);
        // The location's own proxy_pass, else the vhost's (an implicit default vhost has none
        // written: its group is `default`).
        let groups = match config::location::proxy_pass(tree, scope) {
            Some((g, b)) => (
                group_index(groups, g),
                b.and_then(|b| group_index(groups, b)),
            ),
            None => (v.group, v.backup),
        };
        let name = copy(&v.name)?;
        list.push(
            LocCfg {
                op: match_op(loc.op),
                arg: copy(loc.arg)?,
                scope: vhosts.len().saturating_add(scopes.len()),
            },
            GFP_KERNEL,
        )?;
        scopes.push(VhostCfg::new(path, tree, scope, name, groups)?, GFP_KERNEL)?;
    }
    if let Some(v) = vhosts.get_mut(vi) {
        v.locations = list;
    }
    for s in scopes {
        vhosts.push(s, GFP_KERNEL)?;
    }
    Ok(())
}

/// The `cache*` directives, global and per vhost, in kernel memory.
fn cache_cfg(path: &str, tree: &config::Tree<'_, '_>, vhosts: &[VhostCfg]) -> Result<CacheCfg> {
    use config::cache as cc;
    let c = cc::cache(tree).map_err(|e| report(path, &e))?;
    let mut methods = MethodSet::EMPTY;
    for (on, m) in [
        (c.get, MethodSet::GET),
        (c.head, MethodSet::HEAD),
        (c.post, MethodSet::POST),
    ] {
        if on {
            methods = methods.with(m);
        }
    }
    let mut acl_in = [cc::Cidr::NONE; cc::MAX_ACL];
    let n = cc::purge_acl(tree, &mut acl_in).map_err(|e| report(path, &e))?;
    let mut acl = KVec::new();
    for a in acl_in.iter().take(n) {
        if let Some(c) = Cidr::v6(a.addr, a.prefix) {
            acl.push(c, GFP_KERNEL)?;
        }
    }
    let global = cache_policy(path, tree, config::Scope::GLOBAL)?;
    let mut per_vhost = KVec::with_capacity(vhosts.len(), GFP_KERNEL)?;
    for v in vhosts {
        let scope = config::Scope {
            vhost: core::str::from_utf8(&v.name).ok(),
            location: v.loc_node,
        };
        per_vhost.push(cache_policy(path, tree, scope)?, GFP_KERNEL)?;
    }
    Ok(CacheCfg {
        mode: CacheMode::from_level(u64::from(c.level)).unwrap_or(CacheMode::Replicated),
        size: c.size,
        methods,
        ttl: c.ttl,
        purge: c.purge.map(|p| match p {
            cc::Purge::Invalidate => PurgeMode::Invalidate,
            cc::Purge::Immediate => PurgeMode::Immediate,
        }),
        acl,
        global,
        vhosts: per_vhost,
    })
}

/// The cache settings of `scope`.
fn cache_policy(
    path: &str,
    tree: &config::Tree<'_, '_>,
    scope: config::Scope<'_>,
) -> Result<Policy> {
    use config::cache as cc;
    let mut rules_in = [cc::Rule::NONE; cc::MAX_RULES];
    let n = cc::rules(tree, scope, &mut rules_in).map_err(|e| report(path, &e))?;
    let mut rules = KVec::with_capacity(n, GFP_KERNEL)?;
    for r in rules_in.iter().take(n) {
        rules.push(
            RuleCfg {
                op: match_op(r.op),
                arg: copy(r.arg)?,
                fulfill: r.fulfill,
            },
            GFP_KERNEL,
        )?;
    }
    let mut names = [&b""[..]; cc::MAX_NAMES];
    let n = cc::resp_hdr_del(tree, scope, &mut names).map_err(|e| report(path, &e))?;
    let hdr_del = copy_vals(names.get(..n).unwrap_or(&[]))?;
    let n = cc::cc_ignore(tree, scope, &mut names).map_err(|e| report(path, &e))?;
    let mut cc_ignore = CcIgnore::NONE;
    for name in names.iter().take(n) {
        cc_ignore = cc_ignore.with(CcIgnore::from_name(name).unwrap_or(CcIgnore::NONE));
    }
    let n = cc::use_stale(tree, scope, &mut names).map_err(|e| report(path, &e))?;
    let mut use_stale = StaleCodes::NONE;
    for t in names.iter().take(n) {
        // Validated by `config::cache::check`.
        use_stale = use_stale.with_token(t).unwrap_or(use_stale);
    }
    Ok(Policy {
        rules,
        hdr_del,
        cc_ignore,
        use_stale,
    })
}
