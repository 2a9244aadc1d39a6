//! Helpers shared by the integration tests.
#![allow(dead_code)]

use tempesta_config::{measure, parse, validate, Listen, Node, Options, Token, Tree};

/// The example configuration shipped with Tempesta FW (copied from the upstream repository).
pub const EXAMPLE: &str = include_str!("../data/tempesta_fw.conf");

/// Parses `src` into freshly allocated exact buffers and runs `f` on the tree.
pub fn with_tree<R>(src: &[u8], f: impl FnOnce(&Tree<'_, '_>) -> R) -> Result<R, String> {
    let sizes = measure(src).map_err(|e| e.to_string())?;
    let mut nodes = vec![Node::EMPTY; sizes.nodes];
    let mut tokens = vec![Token::EMPTY; sizes.tokens];
    let tree = parse(src, &mut nodes, &mut tokens).map_err(|e| e.to_string())?;
    Ok(f(&tree))
}

/// measure + parse + validate, the error as its display string.
pub fn check(src: &str, opts: Options) -> Result<(), String> {
    with_tree(src.as_bytes(), |t| {
        validate(t, &opts).map_err(|e| e.to_string())
    })?
}

/// The listeners of a valid configuration (strict), default included.
pub fn listens(src: &str) -> Result<Vec<Listen>, String> {
    with_tree(src.as_bytes(), |t| {
        validate(t, &Options::STRICT).map_err(|e| e.to_string())?;
        tempesta_config::effective_listeners(t)
            .map(|l| l.map_err(|e| e.to_string()))
            .collect()
    })?
}
