//! The subset of BER that the kernel's ASN.1 decoder reads, for messages the kernel parses
//! with it: a module's PKCS#7 signature and the X.509 certificates of its keyrings.
//!
//! The rules are those of `asn1_ber_decoder()` and `asn1_find_indefinite_length()`
//! (lib/asn1_decoder.c): one-byte tags only, definite lengths of at most two length bytes
//! (non-minimal forms allowed), indefinite lengths on constructed elements, ended by an
//! end-of-contents pair. Reading the same subset as the kernel, rather than strict DER, means
//! the loader neither refuses what the kernel would accept nor accepts what it would refuse.
//!
//! Every offset is checked against the data it indexes; a reader never allocates.

use std::fmt;

/// The constructed bit of an identifier octet.
pub const CONSTRUCTED: u8 = 0x20;

/// Universal tags used by the callers.
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING.
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// UTCTime.
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE (constructed).
    pub const SEQUENCE: u8 = 0x30;
    /// SET (constructed).
    pub const SET: u8 = 0x31;

    /// `[n]` context-specific, constructed.
    pub const fn context(n: u8) -> u8 {
        0xa0 | n
    }

    /// `[n]` context-specific, primitive.
    pub const fn context_primitive(n: u8) -> u8 {
        0x80 | n
    }
}

/// Why bytes are not the BER the kernel reads. The messages are the decoder's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BerError(pub &'static str);

impl fmt::Display for BerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// One element: identifier, length and contents, each as it appears in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// The identifier and length octets.
    pub header: &'a [u8],
    /// The contents (for an indefinite length: up to the end-of-contents, exclusive).
    pub content: &'a [u8],
    /// The whole element: header, contents and any end-of-contents.
    pub whole: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// A reader over the contents, for constructed elements.
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.content)
    }

    /// Whether the identifier has the constructed bit.
    pub fn is_constructed(&self) -> bool {
        self.tag & CONSTRUCTED != 0
    }
}

/// Reads consecutive elements from a slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    /// Nothing left.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    /// The identifier of the next element, without reading it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads the next element.
    pub fn next_tlv(&mut self) -> Result<Tlv<'a>, BerError> {
        let start = self.pos;
        let (tag, header_len, length) = read_header(self.data, start)?;
        let content_start = start + header_len;
        let (content_end, end) = match length {
            Length::Definite(len) => {
                let end = content_start
                    .checked_add(len)
                    .filter(|&e| e <= self.data.len())
                    .ok_or(BerError("data overrun"))?;
                (end, end)
            }
            Length::Indefinite => {
                if tag & CONSTRUCTED == 0 {
                    return Err(BerError("indefinite length on a primitive element"));
                }
                let eoc = find_end_of_contents(self.data, content_start)?;
                (eoc, eoc + 2)
            }
        };
        self.pos = end;
        Ok(Tlv {
            tag,
            header: &self.data[start..content_start],
            content: &self.data[content_start..content_end],
            whole: &self.data[start..end],
        })
    }

    /// Reads the next element if its identifier is `expected` (see [`tag_matches`]).
    pub fn next_if(&mut self, expected: u8) -> Result<Option<Tlv<'a>>, BerError> {
        match self.peek_tag() {
            Some(t) if tag_matches(t, expected) => self.next_tlv().map(Some),
            _ => Ok(None),
        }
    }
}

/// Whether an identifier matches what the grammar expects. Where the grammar expects a
/// constructed element, the decoder ignores the constructed bit of the data and reads the
/// contents as constructed either way (`asn1_ber_decoder()`: `tmp &= ~(optag &
/// ASN1_CONS_BIT)`); a primitive element must match exactly.
pub fn tag_matches(actual: u8, expected: u8) -> bool {
    if expected & CONSTRUCTED != 0 {
        actual | CONSTRUCTED == expected
    } else {
        actual == expected
    }
}

enum Length {
    Definite(usize),
    Indefinite,
}

/// Identifier, header length and length of the element at `start`, as the main decoder
/// reads them: a long-form tag is refused, and so is a length of more than two bytes.
fn read_header(data: &[u8], start: usize) -> Result<(u8, usize, Length), BerError> {
    let tag = *data.get(start).ok_or(BerError("data overrun"))?;
    if tag & 0x1f == 0x1f {
        return Err(BerError("long tag not supported"));
    }
    let first = *data.get(start + 1).ok_or(BerError("data overrun"))?;
    if first < 0x80 {
        return Ok((tag, 2, Length::Definite(usize::from(first))));
    }
    if first == 0x80 {
        return Ok((tag, 2, Length::Indefinite));
    }
    let n = usize::from(first - 0x80);
    if n > 2 {
        return Err(BerError("unsupported length"));
    }
    let bytes = data
        .get(start + 2..start + 2 + n)
        .ok_or(BerError("data overrun"))?;
    let len = bytes.iter().fold(0usize, |l, &b| (l << 8) | usize::from(b));
    Ok((tag, 2 + n, Length::Definite(len)))
}

/// The offset of the end-of-contents that closes an indefinite-length element whose
/// contents start at `start`, counting nested indefinite lengths the way
/// `asn1_find_indefinite_length()` does (it accepts long-form tags and lengths of up to
/// seven bytes inside such contents).
fn find_end_of_contents(data: &[u8], start: usize) -> Result<usize, BerError> {
    let mut pos = start;
    let mut level = 1usize;
    loop {
        let remaining = data.len().saturating_sub(pos);
        if remaining < 2 {
            return Err(if remaining == 0 {
                BerError("missing end-of-contents in an indefinite-length element")
            } else {
                BerError("data overrun")
            });
        }
        let tag = data[pos];
        if tag == 0 {
            if data[pos + 1] != 0 {
                return Err(BerError("invalid end-of-contents"));
            }
            level -= 1;
            if level == 0 {
                return Ok(pos);
            }
            pos += 2;
            continue;
        }
        pos += 1;
        if tag & 0x1f == 0x1f {
            loop {
                if data.len() - pos < 2 {
                    return Err(BerError("data overrun"));
                }
                let b = data[pos];
                pos += 1;
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let first = *data.get(pos).ok_or(BerError("data overrun"))?;
        pos += 1;
        if first < 0x80 {
            pos = pos
                .checked_add(usize::from(first))
                .ok_or(BerError("data overrun"))?;
            continue;
        }
        if first == 0x80 {
            if tag & CONSTRUCTED == 0 {
                return Err(BerError("indefinite length on a primitive element"));
            }
            level += 1;
            continue;
        }
        let n = usize::from(first - 0x80);
        if n > std::mem::size_of::<usize>() - 1 {
            return Err(BerError("unsupported length"));
        }
        let bytes = data.get(pos..pos + n).ok_or(BerError("data overrun"))?;
        pos += n;
        let mut len = 0usize;
        for &b in bytes {
            len = len
                .checked_mul(256)
                .and_then(|l| l.checked_add(usize::from(b)))
                .ok_or(BerError("data overrun"))?;
        }
        pos = pos.checked_add(len).ok_or(BerError("data overrun"))?;
    }
}

/// The contents of the INTEGER as a small number, if it is one byte long (the kernel reads
/// versions only in that form: `pkcs7_note_signeddata_version()`).
pub fn one_byte_integer(tlv: &Tlv<'_>) -> Option<u8> {
    match tlv.content {
        [v] => Some(*v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definite_lengths_short_and_long_forms() {
        let data = [0x30, 0x03, 0x02, 0x01, 0x05, 0x04, 0x81, 0x02, 0xaa, 0xbb];
        let mut r = Reader::new(&data);
        let seq = r.next_tlv().unwrap();
        assert_eq!(seq.tag, 0x30);
        assert_eq!(seq.content, &[0x02, 0x01, 0x05]);
        let int = seq.reader().next_tlv().unwrap();
        assert_eq!(one_byte_integer(&int), Some(5));
        // A non-minimal long form, which DER forbids and the kernel reads.
        let os = r.next_tlv().unwrap();
        assert_eq!(os.header, &[0x04, 0x81, 0x02]);
        assert_eq!(os.content, &[0xaa, 0xbb]);
        assert!(r.is_empty());
    }

    #[test]
    fn indefinite_lengths_nest() {
        // SEQUENCE (indefinite) { SEQUENCE (indefinite) { INTEGER 1 } EOC, OCTET STRING } EOC
        let data = [
            0x30, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xff,
        ];
        let mut r = Reader::new(&data);
        let outer = r.next_tlv().unwrap();
        assert_eq!(outer.whole.len(), 13);
        assert_eq!(r.rest(), &[0xff]);
        let mut inner = outer.reader();
        let seq = inner.next_tlv().unwrap();
        assert_eq!(seq.content, &[0x02, 0x01, 0x01]);
        assert_eq!(inner.next_tlv().unwrap().tag, 0x04);
        assert!(inner.is_empty());
    }

    #[test]
    fn what_the_kernel_refuses_is_refused() {
        for (data, why) in [
            (&[0x30][..], "data overrun"),
            (&[0x30, 0x05, 0x00], "data overrun"),
            (&[0x1f, 0x01, 0x00], "long tag not supported"),
            (&[0x30, 0x83, 0x00, 0x00, 0x01, 0x00], "unsupported length"),
            (
                &[0x04, 0x80, 0x00, 0x00],
                "indefinite length on a primitive element",
            ),
            (
                &[0x30, 0x80, 0x02, 0x01, 0x01],
                "missing end-of-contents in an indefinite-length element",
            ),
            (&[0x30, 0x80, 0x00, 0x01], "invalid end-of-contents"),
            (&[0x30, 0x82, 0xff], "data overrun"),
        ] {
            assert_eq!(
                Reader::new(data).next_tlv(),
                Err(BerError(why)),
                "{data:x?}"
            );
        }
    }

    #[test]
    fn constructed_bit_is_ignored_only_where_constructed_is_expected() {
        assert!(tag_matches(0x10, tag::SEQUENCE));
        assert!(tag_matches(0x30, tag::SEQUENCE));
        assert!(!tag_matches(0x24, tag::OCTET_STRING));
        assert!(tag_matches(0x80, tag::context(0)));
        assert!(!tag_matches(0xa1, tag::context(0)));
    }

    #[test]
    fn every_prefix_of_a_valid_element_is_an_error_not_a_panic() {
        let data = [
            0x30, 0x80, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x03, 0x04, 0x81, 0x01, 0x41, 0x1f,
            0x00, 0x00,
        ];
        for end in 0..data.len() {
            let _ = Reader::new(&data[..end]).next_tlv();
        }
    }
}
