//! EFI signature lists: the format of shim's Machine Owner Key list (`MokListRT`) and of
//! the firmware's `db`/`dbx`, read as the kernel reads them at boot
//! (`parse_efi_signature_list()` in security/integrity/platform_certs/efi_parser.c).
//!
//! A list is a sequence of `EFI_SIGNATURE_LIST` headers (type GUID, list size, header size,
//! entry size), each followed by an optional header and entries of `EFI_SIGNATURE_DATA`
//! (an owner GUID, then the entry: a DER certificate for `EFI_CERT_X509_GUID`, a hash for
//! the hash types). All integers are little-endian.

/// `EFI_CERT_X509_GUID` (a5c059a1-94e4-4aa7-87b5-ab155c2bf072) in its in-memory byte order.
pub const EFI_CERT_X509_GUID: [u8; 16] = guid(
    0xa5c0_59a1,
    0x94e4,
    0x4aa7,
    [0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72],
);
/// `EFI_CERT_SHA256_GUID` (c1c41626-504c-4092-aca9-41f936934328).
pub const EFI_CERT_SHA256_GUID: [u8; 16] = guid(
    0xc1c4_1626,
    0x504c,
    0x4092,
    [0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28],
);

/// Size of `EFI_SIGNATURE_LIST` (`efi_signature_list_t`).
pub const LIST_HEADER_LEN: usize = 28;
/// Size of the owner GUID that starts every entry (`efi_signature_data_t`).
pub const OWNER_LEN: usize = 16;

/// An EFI GUID in the byte order firmware stores it: the first three fields little-endian.
pub const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

/// One entry of a signature list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// An X.509 certificate (DER, possibly followed by padding).
    X509 {
        /// Who enrolled it.
        owner: [u8; 16],
        /// The entry's data.
        data: Vec<u8>,
    },
    /// An entry of another type (the hash of a binary, of a certificate, ...).
    Other {
        /// The list's signature type.
        signature_type: [u8; 16],
        /// Length of the entry's data.
        len: usize,
    },
}

/// Why a signature list stops being readable. The kernel stops at the same place
/// (EBADMSG) and keeps the entries before it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// Fewer bytes left than a list header.
    #[error(
        "at offset {offset} only {left} bytes remain, fewer than an EFI_SIGNATURE_LIST header"
    )]
    Truncated {
        /// Where the list would start.
        offset: usize,
        /// Bytes left.
        left: usize,
    },
    /// The list claims more bytes than there are.
    #[error("the list at offset {offset} claims {list_size} bytes but only {left} remain")]
    Overrun {
        /// Where the list starts.
        offset: usize,
        /// `SignatureListSize`.
        list_size: u32,
        /// Bytes left.
        left: usize,
    },
    /// The sizes in a list header do not add up.
    #[error("the list at offset {offset} has sizes that do not add up (list {list_size}, header {header_size}, entry {signature_size})")]
    BadSizes {
        /// Where the list starts.
        offset: usize,
        /// `SignatureListSize`.
        list_size: u32,
        /// `SignatureHeaderSize`.
        header_size: u32,
        /// `SignatureSize`.
        signature_size: u32,
    },
}

/// The entries of a signature list blob, and the error that ended it early, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureLists {
    /// Entries in order.
    pub entries: Vec<Entry>,
    /// What stopped the parse before the end.
    pub error: Option<ListError>,
}

/// Parses signature lists the way `parse_efi_signature_list()` checks them.
pub fn parse_signature_lists(data: &[u8]) -> SignatureLists {
    let mut out = SignatureLists::default();
    let mut offset = 0usize;
    while offset < data.len() {
        let left = data.len() - offset;
        if left < LIST_HEADER_LEN {
            out.error = Some(ListError::Truncated { offset, left });
            break;
        }
        let header = &data[offset..offset + LIST_HEADER_LEN];
        let mut signature_type = [0u8; 16];
        signature_type.copy_from_slice(&header[..16]);
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let (list_size, header_size, signature_size) = (word(16), word(20), word(24));
        let (lsize, hsize, esize) = (
            list_size as usize,
            header_size as usize,
            signature_size as usize,
        );
        if lsize > left {
            out.error = Some(ListError::Overrun {
                offset,
                list_size,
                left,
            });
            break;
        }
        // lsize - sizeof(list) - hsize must hold at least one whole number of entries,
        // and an entry must at least hold its owner.
        let elements = lsize
            .checked_sub(LIST_HEADER_LEN)
            .and_then(|l| l.checked_sub(hsize));
        let Some(elsize) = elements.filter(|&e| esize >= OWNER_LEN && e >= esize && e % esize == 0)
        else {
            out.error = Some(ListError::BadSizes {
                offset,
                list_size,
                header_size,
                signature_size,
            });
            break;
        };
        let first = offset + LIST_HEADER_LEN + hsize;
        for element in data[first..first + elsize].chunks_exact(esize) {
            let (owner_bytes, entry) = element.split_at(OWNER_LEN);
            out.entries.push(if signature_type == EFI_CERT_X509_GUID {
                let mut owner = [0u8; 16];
                owner.copy_from_slice(owner_bytes);
                Entry::X509 {
                    owner,
                    data: entry.to_vec(),
                }
            } else {
                Entry::Other {
                    signature_type,
                    len: entry.len(),
                }
            });
        }
        offset += lsize;
    }
    out
}

/// Builds a signature list blob (what firmware and shim store), for tests and fixtures.
pub fn build_signature_list(
    signature_type: [u8; 16],
    owner: [u8; 16],
    entries: &[&[u8]],
) -> Vec<u8> {
    let esize = OWNER_LEN + entries.iter().map(|e| e.len()).max().unwrap_or(0);
    let lsize = LIST_HEADER_LEN + esize * entries.len();
    let mut out = Vec::with_capacity(lsize);
    out.extend_from_slice(&signature_type);
    out.extend_from_slice(&(lsize as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(esize as u32).to_le_bytes());
    for e in entries {
        out.extend_from_slice(&owner);
        out.extend_from_slice(e);
        out.resize(out.len() + (esize - OWNER_LEN - e.len()), 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIM: [u8; 16] = guid(
        0x605d_ab50,
        0xe046,
        0x4300,
        [0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23],
    );

    #[test]
    fn guid_byte_order_is_the_firmwares() {
        // As efivar prints the X.509 type and as it sits in memory.
        assert_eq!(
            EFI_CERT_X509_GUID,
            [
                0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b,
                0xf0, 0x72
            ]
        );
    }

    #[test]
    fn lists_of_several_types_and_sizes() {
        let mut blob = build_signature_list(EFI_CERT_X509_GUID, SHIM, &[b"first cert", b"second"]);
        blob.extend(build_signature_list(
            EFI_CERT_SHA256_GUID,
            SHIM,
            &[&[7u8; 32]],
        ));
        blob.extend(build_signature_list(EFI_CERT_X509_GUID, SHIM, &[b"third"]));
        let lists = parse_signature_lists(&blob);
        assert_eq!(lists.error, None);
        assert_eq!(lists.entries.len(), 4);
        // Entries of one list share a size: shorter certificates are padded.
        assert_eq!(
            lists.entries[1],
            Entry::X509 {
                owner: SHIM,
                data: b"second\0\0\0\0".to_vec()
            }
        );
        assert_eq!(
            lists.entries[2],
            Entry::Other {
                signature_type: EFI_CERT_SHA256_GUID,
                len: 32
            }
        );
        assert!(matches!(&lists.entries[3], Entry::X509 { data, .. } if data == b"third"));
        assert_eq!(parse_signature_lists(&[]), SignatureLists::default());
    }

    #[test]
    fn sizes_that_do_not_add_up_stop_the_parse_after_what_was_read() {
        let good = build_signature_list(EFI_CERT_X509_GUID, SHIM, &[b"cert"]);
        let (offset, list_size) = (good.len(), good.len() as u32);
        let bad = |header_size, signature_size, list_size| ListError::BadSizes {
            offset,
            list_size,
            header_size,
            signature_size,
        };
        // (field of the second list's header to overwrite, value, the error)
        let cases = [
            (
                16,
                1000,
                ListError::Overrun {
                    offset,
                    list_size: 1000,
                    left: offset,
                },
            ),
            // An entry smaller than its owner GUID.
            (24, 8, bad(0, 8, list_size)),
            // A header larger than the list.
            (20, 100, bad(100, 20, list_size)),
            // Not a whole number of entries.
            (24, 19, bad(0, 19, list_size)),
            // A list smaller than its own header.
            (16, 4, bad(0, 20, 4)),
        ];
        for (field, value, error) in cases {
            let mut blob = [good.clone(), good.clone()].concat();
            blob[offset + field..offset + field + 4].copy_from_slice(&u32::to_le_bytes(value));
            let lists = parse_signature_lists(&blob);
            assert_eq!(lists.error, Some(error), "field {field} = {value}");
            // The first list's entry was read before the damage, as the kernel reads it.
            assert_eq!(lists.entries.len(), 1, "field {field} = {value}");
        }
        let lists = parse_signature_lists(&[good.clone(), good[..10].to_vec()].concat());
        assert_eq!(lists.error, Some(ListError::Truncated { offset, left: 10 }));
        assert_eq!(lists.entries.len(), 1);
    }

    #[test]
    fn any_bytes_parse_without_panic() {
        let good = build_signature_list(EFI_CERT_X509_GUID, SHIM, &[b"cert", b"more"]);
        for i in 0..good.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut b = good.clone();
                b[i] = v;
                let _ = parse_signature_lists(&b);
                let _ = parse_signature_lists(&b[..i]);
            }
        }
    }
}
