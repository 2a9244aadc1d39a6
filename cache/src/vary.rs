//! Vary (RFC 9110 section 12.5.5, RFC 9111 section 4.1): which request fields select among
//! the representations of one URI.
//!
//! A stored response with `Vary: A, B` may serve a new request only if the new request's A
//! and B match those of the request that produced it. Matching is done after the
//! normalization RFC 9111 section 4.1 allows without knowing each field's syntax:
//!
//! * several lines of a field are combined (RFC 9110 section 5.3);
//! * the value is read as a comma-separated list: whitespace around members and empty
//!   members are dropped, commas inside quoted strings are kept;
//! * members are then compared exactly (case and inner whitespace kept: whether they are
//!   insignificant depends on the field, and a false mismatch only costs a miss);
//! * an absent field matches only an absent field (an empty one is present).
//!
//! `Vary: *` never matches ([`Vary::Star`]); such responses are not stored. Field names are
//! case-insensitive.
//!
//! So that the store need not keep the original request, [`variant_hash`] condenses the
//! selecting fields into 64 bits computed the same way at store and at lookup time; with the
//! keyed hash a client cannot construct a colliding request. [`variant_matches`] is the exact
//! comparison for a store that keeps the request's values.

use super::fields::{self, is_token, Fields, ListItems};
use super::key::{Seed, Sip};

/// What a response's Vary field says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vary {
    /// No Vary (or only empty lines): one representation for every request.
    Absent,
    /// `*` among the members: no later request can be known to match.
    Star,
    /// A list of field names.
    Fields,
}

impl Vary {
    /// The Vary field of a response.
    pub fn from_fields<F: Fields + ?Sized>(resp: &F) -> Vary {
        let mut v = Vary::Absent;
        for m in names(resp) {
            if m == b"*" {
                return Vary::Star;
            }
            v = Vary::Fields;
        }
        v
    }
}

/// The members of every Vary line (field names and `*`), malformed members skipped.
fn names<F: Fields + ?Sized>(resp: &F) -> impl Iterator<Item = &[u8]> {
    fields::values(resp, b"vary")
        .flat_map(|l| ListItems::new(l, true))
        .filter(|m| *m == b"*" || is_token(m))
}

/// The normalized value of field `name` in `req`: list members joined by `,`.
fn normalized<'a, F: Fields + ?Sized>(req: &'a F, name: &'a [u8]) -> impl Iterator<Item = u8> + 'a {
    fields::values(req, name)
        .flat_map(|l| ListItems::new(l, true))
        .enumerate()
        .flat_map(|(i, m)| {
            let sep: &[u8] = if i == 0 { b"" } else { b"," };
            sep.iter().chain(m).copied()
        })
}

/// The hash of the values `req` has for the fields that `resp`'s Vary names (in the order
/// Vary lists them, names case-insensitive). Two requests get the same hash when
/// [`variant_matches`] says they match (and, but for a 2^-64 chance with a secret seed, only
/// then). For a response without Vary it is a constant, and for `Vary: *` meaningless (not
/// stored).
pub fn variant_hash<R, Q>(seed: Seed, resp: &R, req: &Q) -> u64
where
    R: Fields + ?Sized,
    Q: Fields + ?Sized,
{
    let mut h = Sip::<1, 3>::new(seed);
    for name in names(resp) {
        // Names cannot contain ':', values are followed by their length: the encoding is
        // prefix-free, so different (name, value) lists never feed the hash the same bytes.
        for &b in name {
            h.write(&[b.to_ascii_lowercase()]);
        }
        h.write(b":");
        h.write(&[u8::from(fields::has(req, name))]);
        let mut buf = [0u8; 64];
        let (mut n, mut total) = (0usize, 0u64);
        for b in normalized(req, name) {
            if let Some(slot) = buf.get_mut(n) {
                *slot = b;
                n = n.saturating_add(1);
            } else {
                h.write(&buf);
                buf[0] = b;
                n = 1;
            }
            total = total.wrapping_add(1);
        }
        h.write(buf.get(..n).unwrap_or_default());
        h.write(&total.to_le_bytes());
    }
    h.finish()
}

/// Whether `new_req` selects the same representation as `stored_req` did, for a response
/// with the Vary of `resp` (RFC 9111 section 4.1). Always false for `Vary: *`.
pub fn variant_matches<R, S, N>(resp: &R, stored_req: &S, new_req: &N) -> bool
where
    R: Fields + ?Sized,
    S: Fields + ?Sized,
    N: Fields + ?Sized,
{
    names(resp).all(|name| {
        name != b"*"
            && fields::has(stored_req, name) == fields::has(new_req, name)
            && normalized(stored_req, name).eq(normalized(new_req, name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: Seed = Seed { k0: 7, k1: 9 };

    fn same(vary: &str, a: &[(&str, &str)], b: &[(&str, &str)]) -> bool {
        let resp = [("Vary", vary)];
        let m = variant_matches(&resp, a, b);
        assert_eq!(m, variant_matches(&resp, b, a));
        if !vary.contains('*') {
            let (ha, hb) = (variant_hash(SEED, &resp, a), variant_hash(SEED, &resp, b));
            assert_eq!(m, ha == hb, "hash and exact match disagree");
        }
        m
    }

    #[test]
    fn vary_kinds() {
        assert_eq!(Vary::from_fields(&[("X", "y")]), Vary::Absent);
        assert_eq!(Vary::from_fields(&[("Vary", " , ")]), Vary::Absent);
        assert_eq!(
            Vary::from_fields(&[("Vary", "Accept-Encoding")]),
            Vary::Fields
        );
        assert_eq!(
            Vary::from_fields(&[("Vary", "a"), ("vary", "*")]),
            Vary::Star
        );
        assert_eq!(Vary::from_fields(&[("Vary", "a, *")]), Vary::Star);
    }

    #[test]
    fn star_never_matches() {
        assert!(!same("*", &[], &[]));
        assert!(!same("a, *", &[("a", "1")], &[("a", "1")]));
    }

    #[test]
    fn whitespace_and_line_combination() {
        let a = [("Accept-Encoding", "gzip, br")];
        assert!(same(
            "accept-encoding",
            &a,
            &[("accept-encoding", "gzip,br")]
        ));
        assert!(same(
            "Accept-Encoding",
            &a,
            &[("Accept-Encoding", " gzip ,  br ")]
        ));
        assert!(same(
            "Accept-Encoding",
            &a,
            &[("Accept-Encoding", "gzip"), ("accept-encoding", "br")]
        ));
        assert!(same(
            "Accept-Encoding",
            &a,
            &[("Accept-Encoding", "gzip,,br")]
        ));
        assert!(!same(
            "Accept-Encoding",
            &a,
            &[("Accept-Encoding", "br, gzip")]
        ));
        assert!(!same(
            "Accept-Encoding",
            &a,
            &[("Accept-Encoding", "GZIP, br")]
        ));
        // Quoted commas are data.
        assert!(!same("X", &[("X", "\"a,b\"")], &[("X", "\"a\",\"b\"")]));
    }

    #[test]
    fn absent_vs_empty_vs_other_fields() {
        assert!(same("A", &[], &[("B", "1")]));
        assert!(!same("A", &[], &[("A", "")]));
        assert!(same("A", &[("A", "")], &[("A", " ")]));
        assert!(same(
            "A, B",
            &[("A", "1"), ("B", "2")],
            &[("B", "2"), ("A", "1")]
        ));
        assert!(!same(
            "A, B",
            &[("A", "1"), ("B", "2")],
            &[("A", "1"), ("B", "3")]
        ));
        // Fields not named by Vary do not matter.
        assert!(same("A", &[("A", "1"), ("C", "x")], &[("A", "1")]));
        assert!(same("", &[("A", "1")], &[("A", "2")]));
    }

    #[test]
    fn hash_is_prefix_free() {
        let resp = [("Vary", "A, B")];
        let x = variant_hash(SEED, &resp, &[("A", "1,2"), ("B", "3")]);
        let y = variant_hash(SEED, &resp, &[("A", "1"), ("B", "2,3")]);
        assert_ne!(x, y);
        // Long values go through the buffer more than once.
        let long = "v".repeat(200);
        let long2 = format!("{}w", "v".repeat(199));
        assert!(!same("A", &[("A", &long)], &[("A", &long2)]));
        assert!(same("A", &[("A", &long)], &[("A", &long)]));
    }
}
