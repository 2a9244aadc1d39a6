//! `access_log` and `mmap_log_buffer_size`: where the module writes one line per request.
//!
//! Tempesta FW (`access_log.c`) takes `access_log off | dmesg | mmap ...` (values combine,
//! `off` must be alone, repeats add up) and `mmap_log_buffer_size` (1M). Its `mmap` target is a
//! per-CPU ring buffer that the `tfw_logger` daemon maps; tempesta-rs has no daemon: `mmap`
//! selects a ring buffer of `mmap_log_buffer_size` bytes that user space reads as a stream from
//! `/proc/tempesta/access_log` (`cat`, `tail`-like readers, or any program). The line format is
//! the same in both targets.

use super::error::{Error, ErrorKind};
use super::tree::{Node, Tree};
use super::values::parse_size_in;

/// Tempesta's default `mmap_log_buffer_size`: 1 MiB.
pub const DEFAULT_LOG_BUFFER: u64 = 1 << 20;
/// Smallest `mmap_log_buffer_size` (one page).
pub const MIN_LOG_BUFFER: u64 = 4096;
/// Largest `mmap_log_buffer_size` (the ring is one vmalloc() area).
pub const MAX_LOG_BUFFER: u64 = 64 << 20;

/// Where access log lines go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccessLog {
    /// `dmesg`: each line through the kernel log (costly under load, as Tempesta warns).
    pub dmesg: bool,
    /// `mmap`: the `/proc/tempesta/access_log` stream.
    pub stream: bool,
    /// Ring buffer size of the stream, bytes (`mmap_log_buffer_size`).
    pub buffer: u64,
}

impl AccessLog {
    /// Whether any target is on.
    pub fn enabled(&self) -> bool {
        self.dmesg || self.stream
    }
}

fn is(tree: &Tree<'_, '_>, n: &Node, name: &[u8]) -> bool {
    !n.is_rule() && tree.name(n) == name
}

/// Checks one `access_log` node and returns its (dmesg, stream) bits.
pub(crate) fn check_access_log<'s>(
    tree: &Tree<'s, '_>,
    node: &Node,
) -> Result<(bool, bool), Error<'s>> {
    if tree.option(node, "logger_config").is_some() {
        return Err(tree.error(
            node,
            ErrorKind::NotSupportedFeature(
                "logger_config (there is no tfw_logger: read /proc/tempesta/access_log)",
            ),
        ));
    }
    let (mut off, mut dmesg, mut stream) = (false, false, false);
    for a in tree.args(node) {
        if a.text.eq_ignore_ascii_case(b"off") {
            off = true;
        } else if a.text.eq_ignore_ascii_case(b"dmesg") {
            dmesg = true;
        } else if a.text.eq_ignore_ascii_case(b"mmap") {
            stream = true;
        } else {
            return Err(tree.error(node, ErrorKind::InvalidValue("access_log value", a.text)));
        }
    }
    if off && (dmesg || stream) {
        return Err(tree.error(
            node,
            ErrorKind::Message("access_log 'off' must be the only value"),
        ));
    }
    Ok((dmesg, stream))
}

/// Checks the `mmap_log_buffer_size` node: a size in [4K, 64M], a multiple of 4K.
pub(crate) fn check_buffer_size<'s>(tree: &Tree<'s, '_>, node: &Node) -> Result<u64, Error<'s>> {
    let a = tree.single_arg(node)?;
    let v =
        parse_size_in(a.text, MIN_LOG_BUFFER, MAX_LOG_BUFFER).map_err(|k| tree.error(node, k))?;
    if v % MIN_LOG_BUFFER != 0 {
        return Err(tree.error(
            node,
            ErrorKind::Message("mmap_log_buffer_size must be a multiple of 4K"),
        ));
    }
    Ok(v)
}

/// The access log targets of the configuration (all `access_log` lines add up, as in Tempesta).
pub fn access_log<'s>(tree: &Tree<'s, '_>) -> Result<AccessLog, Error<'s>> {
    let mut log = AccessLog {
        buffer: DEFAULT_LOG_BUFFER,
        ..AccessLog::default()
    };
    for n in tree.top_level() {
        if is(tree, n, b"access_log") {
            let (d, s) = check_access_log(tree, n)?;
            log.dmesg |= d;
            log.stream |= s;
        } else if is(tree, n, b"mmap_log_buffer_size") {
            log.buffer = check_buffer_size(tree, n)?;
        }
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::with;
    use crate::{validate, Options};

    fn get(src: &str) -> Result<AccessLog, String> {
        with(src, |t| {
            validate(t, &Options::STRICT).map_err(|e| e.to_string())?;
            access_log(t).map_err(|e| e.to_string())
        })
    }

    #[test]
    fn defaults_off() {
        let l = get("listen 80;\n").unwrap();
        assert!(!l.enabled());
        assert_eq!(l.buffer, DEFAULT_LOG_BUFFER);
        assert!(!get("access_log off;\n").unwrap().enabled());
    }

    #[test]
    fn targets_combine() {
        let l = get("access_log dmesg;\n").unwrap();
        assert!(l.dmesg && !l.stream);
        let l = get("access_log DMESG mmap;\n").unwrap();
        assert!(l.dmesg && l.stream);
        let l = get("access_log dmesg;\naccess_log mmap;\nmmap_log_buffer_size 64K;\n").unwrap();
        assert!(l.dmesg && l.stream);
        assert_eq!(l.buffer, 65536);
    }

    #[test]
    fn errors() {
        assert_eq!(
            get("access_log syslog;\n").unwrap_err(),
            "line 1: directive 'access_log': invalid access_log value 'syslog'"
        );
        assert_eq!(
            get("access_log off dmesg;\n").unwrap_err(),
            "line 1: directive 'access_log': access_log 'off' must be the only value"
        );
        assert_eq!(
            get("access_log mmap logger_config=/etc/l.json;\n").unwrap_err(),
            "line 1: directive 'access_log': not supported by tempesta-rs yet: \
             logger_config (there is no tfw_logger: read /proc/tempesta/access_log)"
        );
        assert_eq!(
            get("mmap_log_buffer_size 5000;\n").unwrap_err(),
            "line 1: directive 'mmap_log_buffer_size': mmap_log_buffer_size must be a multiple of 4K"
        );
        assert_eq!(
            get("mmap_log_buffer_size 1G;\n").unwrap_err(),
            "line 1: directive 'mmap_log_buffer_size': value '1G' out of range [4096, 67108864]"
        );
        assert!(get("access_log;\n").is_err());
    }
}
