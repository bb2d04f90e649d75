//! Debian version numbers, ordered exactly as dpkg orders them.
//!
//! The loader compares versions in several places: two DKMS builds of DAHDI
//! (`2.11.1.0.20170917` against `3.4.0~rc1`), a package's version against another's
//! (`1:3.1.0-2.1`), the newest of several registered versions. Plain string or numeric
//! comparison gets these wrong (`3.4.0~rc1` is *older* than `3.4.0`; `1:2` is newer than
//! `9`), and every Debian tool, DKMS included, follows dpkg's order, so the operator sees
//! the loader agree with `dpkg --compare-versions`.
//!
//! The format (deb-version(5)) is `[EPOCH:]UPSTREAM[-REVISION]`:
//! - the epoch is the text before the first `:`, a decimal number, 0 when absent;
//! - the revision is the text after the last `-`, empty when there is no `-`;
//! - versions compare by epoch, then upstream, then revision. Upstream and revision are
//!   compared as alternating runs of non-digits and digits: non-digit runs character by
//!   character, where `~` sorts before everything (even the end of the string), letters
//!   before all other characters; digit runs numerically (`007` equals `7`).
//!
//! The rules are dpkg's (lib/dpkg/parsehelp.c `parseversion`, lib/dpkg/version.c
//! `verrevcmp`), checked against the real `dpkg --compare-versions` by the tests.
//!
//! Kernel releases are not versions in this sense and keep their own order.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::{InvalidName, Version};

/// dpkg refuses epochs above `INT_MAX`.
const EPOCH_MAX: u64 = i32::MAX as u64;

/// A Debian version, validated and ordered as dpkg orders it.
///
/// Equality is dpkg's: `1.0` equals `1.00` and `0:1.0` (as `dpkg --compare-versions 1.0
/// eq 1.00` says), although [`DebVersion::as_str`] still gives each as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct DebVersion {
    /// The version as written, without surrounding blanks.
    text: String,
    epoch: u32,
    /// Byte offset of the upstream part in `text` (after the epoch's colon).
    upstream_start: usize,
    /// Byte offset of the revision in `text` (after the last `-`), if there is one.
    revision_start: Option<usize>,
}

impl DebVersion {
    /// Parses a version the way dpkg does, refusing anything dpkg would refuse or warn
    /// about: an empty or non-numeric epoch, nothing after the colon, an empty revision,
    /// an upstream part that does not start with a digit, characters outside `A-Za-z0-9`
    /// and `. + ~ -` `:` (upstream) or `. + ~` (revision), blanks inside.
    ///
    /// Leading and trailing blanks are dropped, as dpkg drops them.
    pub fn parse(value: &str) -> Result<Self, InvalidName> {
        Self::parse_with(value, true)
    }

    /// Parses a version that dpkg would still compare, with a warning: an upstream part
    /// starting with a letter, or other printable ASCII characters (`_`, `/`) that Debian
    /// does not allow in versions but DKMS versions sometimes carry. They sort after
    /// letters, as in dpkg. What dpkg refuses outright is refused here too, as are
    /// control and non-ASCII characters.
    pub fn parse_lenient(value: &str) -> Result<Self, InvalidName> {
        Self::parse_with(value, false)
    }

    fn parse_with(value: &str, strict: bool) -> Result<Self, InvalidName> {
        let bad = |reason: &str| InvalidName {
            what: "Debian version",
            value: value.escape_debug().to_string(),
            reason: reason.to_string(),
        };
        let text = value.trim_matches(|c| c == ' ' || c == '\t');
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if text.contains([' ', '\t']) {
            return Err(bad("it contains blanks"));
        }
        if let Some(c) = text.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(bad(&format!(
                "it contains {c:?}; a version is printable ASCII"
            )));
        }

        let (epoch, upstream_start) = match text.find(':') {
            None => (0, 0),
            Some(colon) => {
                let epoch = parse_epoch(&text[..colon]).map_err(&bad)?;
                if colon + 1 == text.len() {
                    return Err(bad("there is nothing after the epoch's ':'"));
                }
                (epoch, colon + 1)
            }
        };
        let revision_start = match text[upstream_start..].rfind('-') {
            None => None,
            Some(i) => {
                let start = upstream_start + i + 1;
                if start == text.len() {
                    return Err(bad("the revision after the last '-' is empty"));
                }
                Some(start)
            }
        };
        let upstream_end = revision_start.map_or(text.len(), |r| r - 1);
        let upstream = &text[upstream_start..upstream_end];
        if upstream.is_empty() {
            return Err(bad("the upstream version is empty"));
        }
        if strict {
            if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(bad("the upstream version does not start with a digit"));
            }
            let allowed = |c: char, extra: &str| c.is_ascii_alphanumeric() || extra.contains(c);
            if let Some(c) = upstream.chars().find(|&c| !allowed(c, ".-+~:")) {
                return Err(bad(&format!(
                    "the upstream version contains {c:?}; only letters, digits and . + ~ - : are allowed"
                )));
            }
            let revision = revision_start.map_or("", |r| &text[r..]);
            if let Some(c) = revision.chars().find(|&c| !allowed(c, ".+~")) {
                return Err(bad(&format!(
                    "the revision contains {c:?}; only letters, digits and . + ~ are allowed"
                )));
            }
        }
        Ok(DebVersion {
            text: text.to_string(),
            epoch,
            upstream_start,
            revision_start,
        })
    }

    /// The epoch (0 when none was written).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream part: between the epoch's colon and the last `-`.
    pub fn upstream(&self) -> &str {
        let end = self.revision_start.map_or(self.text.len(), |r| r - 1);
        &self.text[self.upstream_start..end]
    }

    /// The Debian revision: after the last `-`; empty when there is none.
    pub fn revision(&self) -> &str {
        self.revision_start.map_or("", |r| &self.text[r..])
    }

    /// The version as written (without surrounding blanks).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The epoch as dpkg reads it with `strtol`: an optional sign, then decimal digits.
fn parse_epoch(s: &str) -> Result<u32, &'static str> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() && s.is_empty() {
        return Err("the epoch before ':' is empty");
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the epoch before ':' is not a number");
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > 10 {
        return Err("the epoch is too big");
    }
    let value: u64 = if significant.is_empty() {
        0
    } else {
        significant.parse().map_err(|_| "the epoch is too big")?
    };
    if negative && value != 0 {
        return Err("the epoch is negative");
    }
    if value > EPOCH_MAX {
        return Err("the epoch is too big");
    }
    Ok(value as u32)
}

/// Weight of one character of a non-digit run: `~` lowest, then the end of the string
/// (and digits, which end the run), then letters, then everything else.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// Compares two upstream parts or two revisions: alternating non-digit runs (compared
/// by [`weight`]) and digit runs (compared as numbers of any length).
fn compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let is_digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        // The non-digit run; ends for each side at a digit or at its end.
        while (i < a.len() && !is_digit(a, i)) || (j < b.len() && !is_digit(b, j)) {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        // The digit run, as a number: skip leading zeros, then the longer run is larger,
        // and between equal lengths the first differing digit decides.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let (start_a, start_b) = (i, j);
        while is_digit(a, i) {
            i += 1;
        }
        while is_digit(b, j) {
            j += 1;
        }
        let (run_a, run_b) = (&a[start_a..i], &b[start_b..j]);
        let by_number = run_a.len().cmp(&run_b.len()).then_with(|| run_a.cmp(run_b));
        if by_number != Ordering::Equal {
            return by_number;
        }
    }
    Ordering::Equal
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(self.upstream(), other.upstream()))
            .then_with(|| compare_part(self.revision(), other.revision()))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DebVersion {}

impl fmt::Display for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for DebVersion {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, InvalidName> {
        Self::parse(s)
    }
}

impl From<DebVersion> for String {
    fn from(v: DebVersion) -> String {
        v.text
    }
}

/// Read back from JSON, validated like any other input.
impl TryFrom<String> for DebVersion {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, InvalidName> {
        Self::parse(&s)
    }
}

/// A [`Version`] (a DKMS or package version already checked to be a safe name) in dpkg's
/// order. Leniently parsed: DKMS versions need not follow Debian's rules.
impl TryFrom<&Version> for DebVersion {
    type Error = InvalidName;
    fn try_from(v: &Version) -> Result<Self, InvalidName> {
        Self::parse_lenient(v.as_str())
    }
}

/// Orders two version strings as dpkg does, accepting what dpkg only warns about (DKMS
/// versions are not checked by dpkg); a string dpkg would refuse outright sorts first.
pub fn compare_lenient(a: &str, b: &str) -> std::cmp::Ordering {
    match (DebVersion::parse_lenient(a), DebVersion::parse_lenient(b)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Err(_), Ok(_)) => std::cmp::Ordering::Less,
        (Ok(_), Err(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::Rng as _;
    use proptest::test_runner::{RngAlgorithm, TestRng};
    use std::process::Command;

    fn v(s: &str) -> DebVersion {
        DebVersion::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// What `dpkg --compare-versions A OP B` says (true or false); panics if dpkg is
    /// missing or refuses a version, since then the comparison has no reference.
    fn dpkg_says(a: &str, op: &str, b: &str) -> bool {
        let out = Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .output()
            .expect("dpkg must be installed to check version order (apt-get install dpkg)");
        match out.status.code() {
            Some(0) => true,
            Some(1) => false,
            _ => panic!(
                "dpkg --compare-versions {a:?} {op} {b:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// dpkg's relation between two versions, with as few runs as the expected answer
    /// allows: one run confirms it; a mismatch costs two more to say what dpkg thinks.
    fn dpkg_relation(a: &str, b: &str, expect: Ordering) -> Ordering {
        let op = |o: Ordering| match o {
            Ordering::Less => "lt",
            Ordering::Equal => "eq",
            Ordering::Greater => "gt",
        };
        if dpkg_says(a, op(expect), b) {
            return expect;
        }
        [Ordering::Less, Ordering::Equal, Ordering::Greater]
            .into_iter()
            .filter(|&o| o != expect)
            .find(|&o| dpkg_says(a, op(o), b))
            .expect("dpkg answers one of lt, eq, gt")
    }

    /// A fixed-seed generator: the corpus is the same on every run, so a failure
    /// reproduces.
    struct Rng(TestRng);
    impl Rng {
        fn new() -> Self {
            Rng(TestRng::deterministic_rng(RngAlgorithm::ChaCha))
        }
        fn below(&mut self, n: usize) -> usize {
            (self.0.next_u64() % n as u64) as usize
        }
        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    /// A valid version built from the pieces that make dpkg's order interesting: epochs,
    /// tildes, letters, leading zeros, long digit runs, `+`, `.`, revisions with dashes
    /// in the upstream part.
    fn random_version(rng: &mut Rng) -> String {
        let atoms = [
            "0",
            "1",
            "2",
            "9",
            "10",
            "01",
            "007",
            "20170917",
            "4294967296",
            "a",
            "b",
            "z",
            "A",
            "Z",
            "rc",
            "beta",
            "~",
            "~~",
            "~rc",
            "+",
            "+git",
            "+dfsg",
            ".",
            ".0",
            "-",
        ];
        let mut s = String::new();
        match rng.below(6) {
            0 => s.push_str("1:"),
            1 => s.push_str(rng.pick(&["0:", "2:", "10:", "00:"])),
            _ => {}
        }
        // The upstream part starts with a digit, as Debian requires.
        s.push_str(rng.pick(&["0", "1", "2", "3", "10", "2.11", "3.4.0"]));
        for _ in 0..rng.below(5) {
            let atom = rng.pick(&atoms);
            s.push_str(atom);
        }
        // A '-' in the upstream part is only allowed with a revision after it.
        if s.contains('-') || rng.below(2) == 0 {
            s.push('-');
            s.push_str(rng.pick(&["1", "0", "2.1", "1~bpo1", "1+b1", "8.4", "a", "1.0~x", "10"]));
        }
        s
    }

    #[test]
    fn classic_edge_cases_agree_with_dpkg() {
        // Pairs in ascending order (or equal, marked "=").
        let ordered = [
            ("1.0~rc1", "<", "1.0"),
            ("1.0~~", "<", "1.0~"),
            ("1.0~", "<", "1.0"),
            ("1.0", "<", "1.0a"),
            ("1.0a", "<", "1.0+"),
            ("1.0", "<", "1.0+dfsg"),
            ("1.0", "<", "1.0.0"),
            ("1.0", "=", "1.00"),
            ("1.0", "=", "0:1.0"),
            ("1.0-0", "<", "1.0-1"),
            ("1.0", "=", "1.0-0"),
            ("9", "<", "10"),
            ("1.9", "<", "1.10"),
            ("2:0.1", ">", "1:99"),
            ("1:0", ">", "999999"),
            ("3.4.0~rc1", "<", "3.4.0"),
            ("2.11.1.0.20170917", "<", "3.1.0"),
            ("1:2.11.1.0.20170917~dfsg-8.4", "<", "1:3.1.0-2"),
            ("1:3.1.0-2", "<", "1:3.1.0-2.1"),
            ("1:3.1.0-2.1", "<", "1:3.1.0+git20230717-1"),
            ("1.0-1~bpo1", "<", "1.0-1"),
            ("1.2-3-4", "<", "1.2-3-5"),
            ("1.2-3", "<", "1.2-3-1"),
            ("a", "<", "b"),
            ("1a", "<", "1b"),
            ("1Z", "<", "1a"),
            ("1.0", "<", "1.0b"),
            ("007", "=", "7"),
            ("1.000001", "=", "1.1"),
            ("4294967296", "<", "4294967297"),
            ("18446744073709551616", "<", "18446744073709551617"),
            ("1:1", "=", "+1:1"),
            ("0:0", "<", "0:0+"),
            ("1~", "<", "1"),
            ("1~a", "<", "1~b"),
            ("1~~a", "<", "1~"),
            ("1:1:0", ">", "1:1"),
        ];
        for (a, rel, b) in ordered {
            let (va, vb) = (
                DebVersion::parse_lenient(a).unwrap(),
                DebVersion::parse_lenient(b).unwrap(),
            );
            let want = match rel {
                "<" => Ordering::Less,
                "=" => Ordering::Equal,
                _ => Ordering::Greater,
            };
            assert_eq!(va.cmp(&vb), want, "{a} {rel} {b}");
            assert_eq!(vb.cmp(&va), want.reverse(), "{b} vs {a}");
            assert_eq!(
                dpkg_relation(a, b, want),
                want,
                "dpkg disagrees: {a} {rel} {b}"
            );
        }
    }

    /// Sorting a corpus by our order and checking every neighbour with dpkg checks the
    /// whole order: if dpkg agrees on each adjacent pair of the sorted list, it agrees on
    /// every pair (dpkg's order is transitive). Random pairs and equal-looking pairs come
    /// on top, so a mistake that a sort would hide still shows.
    #[test]
    fn generated_corpus_agrees_with_dpkg() {
        let mut rng = Rng::new();
        let mut corpus: Vec<String> = (0..1500).map(|_| random_version(&mut rng)).collect();
        corpus.sort();
        corpus.dedup();
        let parsed: Vec<DebVersion> = corpus.iter().map(|s| v(s)).collect();
        let mut sorted: Vec<&DebVersion> = parsed.iter().collect();
        sorted.sort();

        let mut pairs: Vec<(String, String, Ordering)> = sorted
            .windows(2)
            .map(|w| (w[0].to_string(), w[1].to_string(), w[0].cmp(w[1])))
            .collect();
        for _ in 0..800 {
            let (a, b) = (
                &parsed[rng.below(parsed.len())],
                &parsed[rng.below(parsed.len())],
            );
            pairs.push((a.to_string(), b.to_string(), a.cmp(b)));
        }
        assert!(pairs.len() > 2000, "{} pairs", pairs.len());
        assert!(
            pairs.iter().any(|p| p.2 == Ordering::Equal),
            "the corpus has equal versions written differently"
        );

        // Two threads: the machine has two cores and each check is one dpkg run.
        let mismatches: Vec<String> = std::thread::scope(|s| {
            let chunks: Vec<_> = pairs
                .chunks(pairs.len().div_ceil(2))
                .map(|chunk| {
                    s.spawn(move || {
                        chunk
                            .iter()
                            .filter_map(|(a, b, ours)| {
                                let theirs = dpkg_relation(a, b, *ours);
                                (theirs != *ours)
                                    .then(|| format!("{a} vs {b}: ours {ours:?}, dpkg {theirs:?}"))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            chunks.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        assert!(mismatches.is_empty(), "{mismatches:#?}");
    }

    /// Which strings are versions at all: ours against dpkg's own parser. dpkg prints a
    /// warning for what [`DebVersion::parse`] refuses but [`DebVersion::parse_lenient`]
    /// takes, and fails (exit 2) for what both refuse.
    #[test]
    fn validity_agrees_with_dpkg() {
        let mut rng = Rng::new();
        let alphabet = b"0123456789abcZ.:-+~_ /!";
        let mut samples: Vec<String> = [
            "",
            " ",
            "1.0",
            " 1.0 ",
            "1 .0",
            "a1",
            "1_0",
            "1:",
            ":1",
            "a:1",
            "-1:1",
            "1:-1",
            "1-",
            "-1",
            "1--1",
            "1:1:1",
            "1.0-a_b",
            "1.0-1:2",
            "99999999999:1",
            "2147483647:1",
            "2147483648:1",
            "1:a",
            "1/2",
            "~1",
            "1-~",
            "+1:1",
            "-0:1",
            "1..2",
            "1:1-",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..300 {
            let len = 1 + rng.below(8);
            let s: String = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())] as char)
                .collect();
            samples.push(s);
        }
        let mut checked = 0;
        for s in &samples {
            let out = Command::new("dpkg")
                .args(["--compare-versions", s, "eq", s])
                .output()
                .expect("dpkg must be installed (apt-get install dpkg)");
            let stderr = String::from_utf8_lossy(&out.stderr);
            // dpkg treats an empty string as "no version", and takes one starting with
            // '-' for an option; neither is a version to us.
            if s.starts_with('-') {
                continue;
            }
            if s.trim_matches([' ', '\t']).is_empty() {
                assert!(DebVersion::parse_lenient(s).is_err(), "{s:?}");
                continue;
            }
            let dpkg_error = out.status.code() == Some(2);
            let dpkg_warning = !dpkg_error && stderr.contains("bad syntax");
            assert_eq!(
                DebVersion::parse(s).is_ok(),
                !dpkg_error && !dpkg_warning,
                "strict parse of {s:?}; dpkg said {stderr}"
            );
            assert_eq!(
                DebVersion::parse_lenient(s).is_ok(),
                !dpkg_error,
                "lenient parse of {s:?}; dpkg said {stderr}"
            );
            checked += 1;
        }
        assert!(checked > 300);
    }

    #[test]
    fn parts_and_display() {
        let x = v("1:3.1.0-2-2.1");
        assert_eq!(
            (x.epoch(), x.upstream(), x.revision()),
            (1, "3.1.0-2", "2.1")
        );
        assert_eq!(x.to_string(), "1:3.1.0-2-2.1");
        let y = v("2.11.1.0.20170917");
        assert_eq!(
            (y.epoch(), y.upstream(), y.revision()),
            (0, "2.11.1.0.20170917", "")
        );
        let z = v("  3.4.0~rc1\t");
        assert_eq!(z.as_str(), "3.4.0~rc1");
        assert_eq!(v("1:2:3").upstream(), "2:3");
        let json = serde_json::to_string(&x).unwrap();
        assert_eq!(json, "\"1:3.1.0-2-2.1\"");
        let back: DebVersion = serde_json::from_str(&json).unwrap();
        assert_eq!(back.as_str(), x.as_str());
        assert!(serde_json::from_str::<DebVersion>("\"1:\"").is_err());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (s, needle) in [
            ("", "empty"),
            ("1 0", "blanks"),
            ("x:1", "epoch"),
            (":1", "epoch"),
            ("1:", "nothing after"),
            ("1.0-", "revision"),
            ("a1", "start with a digit"),
            ("1_0", "'_'"),
            ("1.0-a_b", "revision contains"),
            ("3000000000:1", "too big"),
            ("-1:1", "negative"),
            ("1.0\n", "printable"),
        ] {
            let e = DebVersion::parse(s).unwrap_err().to_string();
            assert!(
                e.contains("Debian version") && e.contains(needle),
                "{s:?}: {e}"
            );
        }
        // The lenient parse takes what dpkg only warns about.
        assert!(DebVersion::parse_lenient("a1").is_ok());
        assert!(DebVersion::parse_lenient("1_0").is_ok());
        assert!(DebVersion::parse_lenient("1.0-").is_err());
    }

    #[test]
    fn from_a_checked_version() {
        let checked = Version::new("1:3.1.0-2.1").unwrap();
        let d = DebVersion::try_from(&checked).unwrap();
        assert!(d > v("1:3.1.0-2"));
        let dkms = Version::new_as("DKMS version", "6.0_rc1").unwrap();
        assert!(DebVersion::try_from(&dkms).unwrap() > v("6.0"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        /// Any string: parsing never panics, and whatever parses is ordered consistently
        /// with itself and round-trips through its text.
        #[test]
        fn parse_never_panics(a in "\\PC{0,24}", b in "[0-9a-z.:~+_-]{1,16}") {
            for s in [&a, &b] {
                let parsed = [DebVersion::parse(s), DebVersion::parse_lenient(s)];
                for x in parsed.into_iter().flatten() {
                    proptest::prop_assert_eq!(x.cmp(&x), Ordering::Equal);
                    let again = DebVersion::parse_lenient(x.as_str()).unwrap();
                    proptest::prop_assert_eq!(again.cmp(&x), Ordering::Equal);
                }
            }
            if let (Ok(x), Ok(y)) = (DebVersion::parse_lenient(&a), DebVersion::parse_lenient(&b)) {
                proptest::prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
            }
        }
    }
}
