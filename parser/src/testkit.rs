//! Host-only drivers for tests, the fuzz target and the benchmarks (feature `std`).
//!
//! They run a parser over a stream given as chunks the way a caller would (feeding the rest
//! of a chunk again after each complete message, calling `finish` at the end) and collect the
//! events, merging adjacent [`Event::Data`] spans so that results can be compared across
//! different splits of the same stream.

use super::{Error, Event, Limits, Method, RequestParser, ResponseParser, Span, Status};
use std::vec::Vec;

/// Which parser to drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A request stream.
    Request,
    /// A response stream; every response answers a request with this method.
    Response(Method),
}

/// Collects events, merging each [`Event::Data`] into a directly preceding, contiguous one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Collect(pub Vec<Event>);

impl super::Sink for Collect {
    fn event(&mut self, ev: Event) {
        if let (Event::Data(next), Some(Event::Data(prev))) = (ev, self.0.last_mut()) {
            if prev.end == next.start {
                prev.end = next.end;
                return;
            }
        }
        self.0.push(ev);
    }
}

/// The result of driving a parser over a whole stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The events, with adjacent `Data` merged.
    pub events: Vec<Event>,
    /// `Ok` if the stream parsed (and `finish` agreed), else the error.
    pub verdict: Result<(), Error>,
}

enum Either {
    Req(RequestParser),
    Resp(ResponseParser),
}

impl Either {
    fn new(role: Role, limits: Limits) -> Self {
        match role {
            Role::Request => Self::Req(RequestParser::new(limits)),
            Role::Response(m) => {
                let mut p = ResponseParser::new(limits);
                p.set_request_method(m);
                Self::Resp(p)
            }
        }
    }
    fn feed(&mut self, c: &[u8], s: &mut Collect) -> Result<Status, Error> {
        match self {
            Self::Req(p) => p.feed(c, s),
            Self::Resp(p) => p.feed(c, s),
        }
    }
    fn finish(&mut self, s: &mut Collect) -> Result<(), Error> {
        match self {
            Self::Req(p) => p.finish(s),
            Self::Resp(p) => p.finish(s),
        }
    }
    fn data_run(&self) -> u64 {
        match self {
            Self::Req(p) => p.data_run(),
            Self::Resp(p) => p.data_run(),
        }
    }
    fn skip(&mut self, n: u64, s: &mut Collect) -> Option<Status> {
        match self {
            Self::Req(p) => p.skip(n, s),
            Self::Resp(p) => p.skip(n, s),
        }
    }
    fn closed(&self) -> bool {
        match self {
            Self::Req(_) => false,
            Self::Resp(p) => p.is_closed(),
        }
    }
}

/// Drives a parser over `chunks`. Bytes after a response that switched the connection to a
/// tunnel are not fed.
pub fn run(role: Role, limits: Limits, chunks: &[&[u8]]) -> Outcome {
    let mut p = Either::new(role, limits);
    let mut sink = Collect::default();
    let verdict = feed_chunks(&mut p, &mut sink, chunks);
    Outcome {
        events: sink.0,
        verdict,
    }
}

fn feed_chunks(p: &mut Either, sink: &mut Collect, chunks: &[&[u8]]) -> Result<(), Error> {
    for chunk in chunks {
        let mut rest: &[u8] = chunk;
        while !rest.is_empty() && !p.closed() {
            match p.feed(rest, sink)? {
                Status::Partial => break,
                Status::Complete { consumed } => rest = rest.get(consumed..).unwrap_or_default(),
            }
        }
        if p.closed() {
            break;
        }
    }
    p.finish(sink)
}

/// Drives a parser over `msg` the way a zero-copy forwarder does: whenever the parser
/// reports a data run, part of it (a length drawn from `seed`) is taken with `skip` instead
/// of being fed, the rest of the stream is fed in pieces. The outcome must equal [`run`]'s.
pub fn run_skipping(role: Role, limits: Limits, msg: &[u8], seed: u8) -> Outcome {
    let mut p = Either::new(role, limits);
    let mut sink = Collect::default();
    let verdict = feed_skipping(&mut p, &mut sink, msg, seed);
    Outcome {
        events: sink.0,
        verdict,
    }
}

fn feed_skipping(p: &mut Either, sink: &mut Collect, msg: &[u8], seed: u8) -> Result<(), Error> {
    let mut x = u64::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut rest = msg;
    while !rest.is_empty() && !p.closed() {
        let run = p.data_run();
        if run > 0 {
            // Skip 1..=run bytes of what is there (all of it every other time).
            let avail = (rest.len() as u64).min(run);
            let r = next();
            let n = match r & 1 {
                0 => avail,
                _ => r.checked_rem(avail).unwrap_or(0).saturating_add(1),
            };
            if p.skip(n, sink).is_none() {
                panic!("skip({n}) refused with a run of {run}");
            }
            rest = rest.get(n as usize..).unwrap_or_default();
            continue;
        }
        // Feed a piece (1..=64 bytes), so that runs start inside pieces too.
        let want = (next() % 64) as usize + 1;
        let piece = rest.get(..want.min(rest.len())).unwrap_or(rest);
        rest = match p.feed(piece, sink)? {
            Status::Partial => rest.get(piece.len()..).unwrap_or_default(),
            Status::Complete { consumed } => rest.get(consumed..).unwrap_or_default(),
        };
    }
    p.finish(sink)
}

/// Drives a parser over `msg` cut at the given (sorted, in-range) offsets.
pub fn run_split(role: Role, limits: Limits, msg: &[u8], cuts: &[usize]) -> Outcome {
    let mut chunks = Vec::with_capacity(cuts.len().saturating_add(1));
    let mut from = 0usize;
    for &c in cuts {
        let c = c.clamp(from, msg.len());
        chunks.push(msg.get(from..c).unwrap_or_default());
        from = c;
    }
    chunks.push(msg.get(from..).unwrap_or_default());
    run(role, limits, &chunks)
}

/// The bytes of `span` in `stream` (which starts at offset 0).
pub fn bytes(stream: &[u8], span: Span) -> &[u8] {
    span.within(stream, 0).unwrap_or_default()
}

/// Limits used by the fuzz input encoding: default, tight, and none.
pub const FUZZ_LIMITS: [Limits; 3] = [
    Limits::DEFAULT,
    Limits {
        uri_len: 64,
        header_cnt: 8,
        hdr_len: 64,
        header_list_size: 256,
        body_len: 64,
        chunk_line_len: 16,
    },
    Limits::NONE,
];

/// Roles selectable by the fuzz input encoding.
pub const FUZZ_ROLES: [Role; 4] = [
    Role::Request,
    Role::Response(Method::Get),
    Role::Response(Method::Head),
    Role::Response(Method::Connect),
];

/// Decodes a fuzz input: byte 0 selects the role (bits 0-1) and the limits (bits 2-3), byte 1
/// seeds the random splits, the rest is the stream.
pub fn decode_fuzz_input(data: &[u8]) -> (Role, Limits, u8, &[u8]) {
    let ctl = data.first().copied().unwrap_or(0);
    let seed = data.get(1).copied().unwrap_or(0);
    let role = FUZZ_ROLES
        .get(usize::from(ctl & 3))
        .copied()
        .unwrap_or(Role::Request);
    let limits = FUZZ_LIMITS
        .get(usize::from((ctl >> 2) & 3))
        .copied()
        .unwrap_or(Limits::DEFAULT);
    (role, limits, seed, data.get(2..).unwrap_or_default())
}

/// Encodes a fuzz input (see [`decode_fuzz_input`]).
pub fn encode_fuzz_input(role: usize, limits: usize, seed: u8, msg: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(msg.len().saturating_add(2));
    v.push(((role & 3) | ((limits & 3) << 2)) as u8);
    v.push(seed);
    v.extend_from_slice(msg);
    v
}

/// Parses `msg` whole, then split at random points drawn from `seed` (three different
/// splits), then byte by byte (if shorter than 4 KiB), and checks that all give the same
/// outcome. Returns the outcome, or a description of the first difference.
pub fn check_split_invariance(
    role: Role,
    limits: Limits,
    msg: &[u8],
    seed: u8,
) -> Result<Outcome, std::string::String> {
    let whole = run(role, limits, &[msg]);
    let mut x = u64::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for round in 0..3u32 {
        let mut cuts = Vec::new();
        let n = msg.len();
        if n > 0 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let count = (x & 15) as usize;
            for _ in 0..count {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                cuts.push(x.checked_rem(n as u64).unwrap_or(0) as usize);
            }
        }
        cuts.sort_unstable();
        let split = run_split(role, limits, msg, &cuts);
        if split != whole {
            return Err(std::format!(
                "round {round}: cuts {cuts:?} differ:\nwhole: {whole:?}\nsplit: {split:?}"
            ));
        }
    }
    if msg.len() < 4096 {
        let cuts: Vec<usize> = (1..msg.len()).collect();
        let split = run_split(role, limits, msg, &cuts);
        if split != whole {
            return Err(std::format!(
                "byte by byte differs:\nwhole: {whole:?}\nsplit: {split:?}"
            ));
        }
    }
    Ok(whole)
}
