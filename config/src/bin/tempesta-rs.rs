//! `tempesta-rs`: host-side tool of tempesta-rs.
//!
//! `tempesta-rs check [--lenient] FILE` reads a Tempesta FW configuration and runs the same
//! measure / parse / validate code as the kernel module. It prints `FILE: OK` and exits 0, or
//! prints the error as the module does (`FILE:LINE: directive 'NAME': REASON`) on stderr and
//! exits 1. `--lenient` accepts directives tempesta-rs does not implement yet after checking
//! their shape. `!include` is refused as in the module: tempesta.sh expands includes first.
//! Usage errors exit 2.

use std::process::ExitCode;

use tempesta_config::{measure, parse, validate, Node, Options, Token};

const USAGE: &str = "usage: tempesta-rs check [--lenient] FILE";

fn check(file: &str, opts: &Options) -> ExitCode {
    let src = match std::fs::read(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{file}: cannot read: {e}");
            return ExitCode::from(1);
        }
    };
    let result = measure(&src).and_then(|sizes| {
        let mut nodes = vec![Node::EMPTY; sizes.nodes];
        let mut tokens = vec![Token::EMPTY; sizes.tokens];
        let tree = parse(&src, &mut nodes, &mut tokens)?;
        validate(&tree, opts)
    });
    match result {
        Ok(()) => {
            println!("{file}: OK");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}", e.with_file(file));
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = Options::STRICT;
    let mut file = None;
    match args.split_first() {
        Some((cmd, rest)) if cmd == "check" => {
            for a in rest {
                match a.as_str() {
                    "--lenient" => opts = Options::LENIENT,
                    "-h" | "--help" => {
                        println!("{USAGE}");
                        return ExitCode::SUCCESS;
                    }
                    s if s.starts_with('-') && s != "-" => {
                        eprintln!("tempesta-rs: unknown option '{s}'\n{USAGE}");
                        return ExitCode::from(2);
                    }
                    s if file.is_none() => file = Some(s.to_owned()),
                    _ => {
                        eprintln!("tempesta-rs: one FILE only\n{USAGE}");
                        return ExitCode::from(2);
                    }
                }
            }
        }
        Some((cmd, _)) if cmd == "-h" || cmd == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    match file {
        Some(f) => check(&f, &opts),
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
