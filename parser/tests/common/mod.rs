//! Shared helpers and the corpus of messages with their expected verdicts.
#![allow(dead_code)]

pub mod corpus;
pub mod messages;

use tempesta_parser::testkit::{self, Outcome, Role};
use tempesta_parser::{Error, Event, Field, Head, HeaderId, Limits, Method, RequestLine};

/// Small deterministic PRNG (xorshift64*), so test runs are reproducible.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

pub fn req(msg: &[u8]) -> Outcome {
    testkit::run(Role::Request, Limits::default(), &[msg])
}

pub fn req_with(limits: Limits, msg: &[u8]) -> Outcome {
    testkit::run(Role::Request, limits, &[msg])
}

pub fn resp(method: Method, msg: &[u8]) -> Outcome {
    testkit::run(Role::Response(method), Limits::default(), &[msg])
}

pub fn req_err(msg: &[u8]) -> Error {
    match req(msg).verdict {
        Err(e) => e,
        Ok(()) => panic!("accepted: {:?}", String::from_utf8_lossy(msg)),
    }
}

pub fn resp_err(method: Method, msg: &[u8]) -> Error {
    match resp(method, msg).verdict {
        Err(e) => e,
        Ok(()) => panic!("accepted: {:?}", String::from_utf8_lossy(msg)),
    }
}

pub fn ok(o: &Outcome) {
    assert_eq!(o.verdict, Ok(()), "events: {:#?}", o.events);
}

pub fn heads(o: &Outcome) -> Vec<Head> {
    o.events
        .iter()
        .filter_map(|e| match e {
            Event::HeadEnd(h) => Some(*h),
            _ => None,
        })
        .collect()
}

pub fn head(o: &Outcome) -> Head {
    ok(o);
    heads(o)[0]
}

pub fn request_line(o: &Outcome) -> RequestLine {
    o.events
        .iter()
        .find_map(|e| match e {
            Event::RequestLine(r) => Some(*r),
            _ => None,
        })
        .expect("no request line")
}

pub fn fields(o: &Outcome) -> Vec<Field> {
    o.events
        .iter()
        .filter_map(|e| match e {
            Event::Header(f) => Some(*f),
            _ => None,
        })
        .collect()
}

pub fn trailers(o: &Outcome) -> Vec<Field> {
    o.events
        .iter()
        .filter_map(|e| match e {
            Event::Trailer(f) => Some(*f),
            _ => None,
        })
        .collect()
}

/// (id, name, value) of the header fields, as strings.
pub fn field_strs(msg: &[u8], fs: &[Field]) -> Vec<(HeaderId, String, String)> {
    fs.iter()
        .map(|f| {
            (
                f.id,
                String::from_utf8_lossy(testkit::bytes(msg, f.name)).into_owned(),
                String::from_utf8_lossy(testkit::bytes(msg, f.value)).into_owned(),
            )
        })
        .collect()
}

/// Concatenated body data.
pub fn body(msg: &[u8], o: &Outcome) -> Vec<u8> {
    let mut v = Vec::new();
    for e in &o.events {
        if let Event::Data(s) = e {
            v.extend_from_slice(testkit::bytes(msg, *s));
        }
    }
    v
}

pub fn count_ends(o: &Outcome) -> usize {
    o.events
        .iter()
        .filter(|e| matches!(e, Event::End(_)))
        .count()
}
