//! Reading a kernel module (`.ko`) without loading it.
//!
//! The kernel decides whether a module loads from a few pieces of its ELF file: the
//! `.modinfo` strings (vermagic, depends, ...), the `__versions` table of imported symbol
//! CRCs, the size of `.gnu.linkonce.this_module` (the kernel's `struct module`), and the
//! signature appended after the ELF data. This module extracts exactly those, from bytes,
//! with every offset bounds-checked by the `object` crate: a truncated or corrupted file
//! gives an [`ElfError`], never a panic.

use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::Endianness;
use serde::Serialize;

/// The marker the kernel looks for at the very end of a signed module (`MODULE_SIG_STRING`).
pub const SIGNATURE_MAGIC: &[u8] = b"~Module signature appended~\n";

/// Size of `struct module_signature`, which sits between the signature and the marker.
const SIG_INFO_LEN: usize = 12;

/// Each `__versions` record is `struct modversion_info`: an `unsigned long` CRC then the
/// name, 64 bytes in all on both 32- and 64-bit kernels.
const MODVERSION_RECORD: usize = 64;

/// Why a file could not be read as a kernel module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    /// Compressed data was given where the decompressed image belongs (a caller's bug:
    /// [`super::ModuleFile::read`] decompresses).
    #[error("it is {0}-compressed and was not decompressed first")]
    Compressed(&'static str),
    /// Not an ELF file at all.
    #[error("it is not an ELF file (bad magic)")]
    NotElf,
    /// ELF, but the structure is broken (truncated, offsets out of range).
    #[error("its ELF structure is damaged: {0}")]
    Malformed(String),
    /// ELF, but not a relocatable object, so not a module.
    #[error("it is an ELF file of type {0}, not a relocatable kernel module")]
    NotRelocatable(u16),
    /// The kernel refuses modules without `.modinfo`.
    #[error("it has no .modinfo section")]
    NoModinfo,
    /// The kernel refuses modules without a symbol table ("stripped?").
    #[error("it has no symbol table (stripped?)")]
    NoSymbols,
    /// The signature trailer is present but inconsistent.
    #[error("its signature trailer is damaged: {0}")]
    BadSignature(String),
}

/// An imported symbol and the CRC the module was built against (`__versions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SymbolCrc {
    /// Symbol name.
    pub name: String,
    /// Low 32 bits of the CRC, which is all genksyms produces.
    pub crc: u32,
}

/// A symbol the module exports to other modules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Export {
    /// Symbol name.
    pub name: String,
    /// Its CRC when the module was built with modversions.
    pub crc: Option<u32>,
}

/// The appended signature, as far as it can be read without crypto.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// `id_type` from `struct module_signature`: 2 is PKCS#7, the only kind kernels accept.
    pub id_type: u8,
    /// Length of the signature blob in bytes.
    pub length: u32,
}

impl Signature {
    /// The name modinfo prints as `sig_id`.
    pub fn id_type_name(&self) -> &'static str {
        match self.id_type {
            0 => "PGP",
            1 => "X509",
            2 => "PKCS#7",
            _ => "unknown",
        }
    }
}

/// Everything the loader needs from one module file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleInfo {
    /// `.modinfo` entries in file order (keys repeat: `alias`, `parm`, ...).
    pub modinfo: Vec<(String, String)>,
    /// Imported symbols with CRCs (empty without modversions).
    pub versions: Vec<SymbolCrc>,
    /// Exported symbols.
    pub exports: Vec<Export>,
    /// Undefined (imported) symbols the kernel must resolve at load time (`simplify_symbols()`:
    /// weak ones, and the few an architecture ignores, may stay unresolved and are left out).
    pub imports: Vec<String>,
    /// `sh_size` of `.gnu.linkonce.this_module`, i.e. the `struct module` size built in.
    pub this_module_size: Option<u64>,
    /// ELF `e_machine`.
    pub machine: u16,
    /// ELF class: 32 or 64.
    pub class_bits: u8,
    /// The appended signature, if any.
    pub signature: Option<Signature>,
}

impl ModuleInfo {
    /// Parses a module from its bytes.
    pub fn parse(data: &[u8]) -> Result<Self, ElfError> {
        if let Some(kind) = super::Compression::from_magic(data) {
            return Err(ElfError::Compressed(kind.kernel_name()));
        }
        let (elf_data, signature) = split_signature(data)?;
        if elf_data.len() < 16 || &elf_data[..4] != b"\x7fELF" {
            return Err(ElfError::NotElf);
        }
        let mut info = match elf_data[4] {
            elf::ELFCLASS64 => parse_elf::<elf::FileHeader64<Endianness>>(elf_data, 64)?,
            elf::ELFCLASS32 => parse_elf::<elf::FileHeader32<Endianness>>(elf_data, 32)?,
            c => return Err(ElfError::Malformed(format!("unknown ELF class {c}"))),
        };
        info.signature = signature;
        Ok(info)
    }

    /// The first value of a `.modinfo` key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.modinfo
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a `.modinfo` key, in file order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.modinfo
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `vermagic=`.
    pub fn vermagic(&self) -> Option<&str> {
        self.get("vermagic")
    }

    /// `name=` (absent on old kernels, then the file name is the module name).
    pub fn name(&self) -> Option<&str> {
        self.get("name")
    }

    /// `srcversion=`.
    pub fn srcversion(&self) -> Option<&str> {
        self.get("srcversion")
    }

    /// The modules named in `depends=`, in order, without empty entries.
    pub fn depends(&self) -> Vec<String> {
        self.get("depends")
            .map(|d| {
                d.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every `alias=` pattern.
    pub fn aliases(&self) -> Vec<String> {
        self.get_all("alias").map(String::from).collect()
    }
}

/// Separates the ELF image from an appended signature (`module_sig_check` does the same).
fn split_signature(data: &[u8]) -> Result<(&[u8], Option<Signature>), ElfError> {
    let Some(rest) = data.strip_suffix(SIGNATURE_MAGIC) else {
        return Ok((data, None));
    };
    if rest.len() < SIG_INFO_LEN {
        return Err(ElfError::BadSignature(
            "the file is shorter than the signature header".into(),
        ));
    }
    let (body, sig_info) = rest.split_at(rest.len() - SIG_INFO_LEN);
    let id_type = sig_info[2];
    let sig_len = u32::from_be_bytes([sig_info[8], sig_info[9], sig_info[10], sig_info[11]]);
    let Some(elf_len) = body.len().checked_sub(sig_len as usize) else {
        return Err(ElfError::BadSignature(format!(
            "it claims {sig_len} bytes of signature but the file is only {} bytes long",
            data.len()
        )));
    };
    Ok((
        &body[..elf_len],
        Some(Signature {
            id_type,
            length: sig_len,
        }),
    ))
}

fn malformed(e: object::read::Error) -> ElfError {
    ElfError::Malformed(e.to_string())
}

fn parse_elf<Elf: FileHeader<Endian = Endianness>>(
    data: &[u8],
    class_bits: u8,
) -> Result<ModuleInfo, ElfError> {
    let header = Elf::parse(data).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    let e_type = header.e_type(endian);
    if e_type != elf::ET_REL {
        return Err(ElfError::NotRelocatable(e_type));
    }
    let sections = header.sections(endian, data).map_err(malformed)?;

    let mut modinfo_data = None;
    let mut versions_data = None;
    let mut this_module_size = None;
    let mut kcrctab = None;
    for (index, section) in sections.enumerate() {
        let Ok(name) = sections.section_name(endian, section) else {
            continue;
        };
        match name {
            b".modinfo" => {
                if modinfo_data.is_some() {
                    // The kernel takes the first one; two means a hand-made or damaged file.
                    return Err(ElfError::Malformed("it has two .modinfo sections".into()));
                }
                modinfo_data = Some(section.data(endian, data).map_err(malformed)?);
            }
            b"__versions" => versions_data = Some(section.data(endian, data).map_err(malformed)?),
            b".gnu.linkonce.this_module" => {
                this_module_size = Some(section.sh_size(endian).into());
            }
            b"__kcrctab" | b"__kcrctab_gpl" => {
                let bytes = section.data(endian, data).map_err(malformed)?;
                kcrctab.get_or_insert_with(Vec::new).push((index, bytes));
            }
            _ => {}
        }
    }
    let modinfo = parse_modinfo(modinfo_data.ok_or(ElfError::NoModinfo)?);
    let versions = match versions_data {
        Some(d) => parse_versions(d, class_bits, endian)?,
        None => Vec::new(),
    };

    let symbols = sections
        .symbols(endian, data, elf::SHT_SYMTAB)
        .map_err(malformed)?;
    if symbols.is_empty() {
        return Err(ElfError::NoSymbols);
    }
    let mut exports: Vec<Export> = Vec::new();
    let mut crcs: Vec<(String, u32)> = Vec::new();
    let kcrctab = kcrctab.unwrap_or_default();
    let mut imports: Vec<String> = Vec::new();
    for sym in symbols.iter() {
        let Ok(name) = symbols.symbol_name(endian, sym) else {
            continue;
        };
        if sym.st_shndx(endian) == elf::SHN_UNDEF
            && !name.is_empty()
            && sym.st_bind() != elf::STB_WEAK
            // ignore_undef_symbol(): i386's GOT and ppc64's TOC are resolved otherwise.
            && name != b"_GLOBAL_OFFSET_TABLE_"
            && name != b".TOC."
        {
            imports.push(String::from_utf8_lossy(name).into_owned());
            continue;
        }
        if let Some(exported) = name.strip_prefix(b"__ksymtab_") {
            // __ksymtab_strings is a section name that can also appear as a symbol.
            if exported != b"strings" {
                exports.push(Export {
                    name: String::from_utf8_lossy(exported).into_owned(),
                    crc: None,
                });
            }
        } else if let Some(crc_of) = name.strip_prefix(b"__crc_") {
            let value: u64 = sym.st_value(endian).into();
            let shndx = sym.st_shndx(endian);
            let crc = if shndx == elf::SHN_ABS {
                // Before Linux 5.19 the CRC was the absolute value of the symbol itself.
                Some(value as u32)
            } else {
                // Since 5.19 the symbol points at a 32-bit CRC stored in __kcrctab.
                kcrctab
                    .iter()
                    .find(|(i, _)| i.0 == usize::from(shndx))
                    .and_then(|(_, bytes)| read_u32(bytes, value, endian))
            };
            if let Some(crc) = crc {
                crcs.push((String::from_utf8_lossy(crc_of).into_owned(), crc));
            }
        }
    }
    for (name, crc) in crcs {
        match exports.iter_mut().find(|e| e.name == name) {
            Some(e) => e.crc = Some(crc),
            None => exports.push(Export {
                name,
                crc: Some(crc),
            }),
        }
    }
    exports.sort_by(|a, b| a.name.cmp(&b.name));

    imports.sort();
    imports.dedup();
    Ok(ModuleInfo {
        modinfo,
        versions,
        exports,
        imports,
        this_module_size,
        machine: header.e_machine(endian),
        class_bits,
        signature: None,
    })
}

fn read_u32(bytes: &[u8], offset: u64, endian: Endianness) -> Option<u32> {
    let start = usize::try_from(offset).ok()?;
    let b: [u8; 4] = bytes.get(start..start.checked_add(4)?)?.try_into().ok()?;
    Some(match endian {
        Endianness::Little => u32::from_le_bytes(b),
        Endianness::Big => u32::from_be_bytes(b),
    })
}

/// `.modinfo` is NUL-separated `key=value` strings, possibly with NUL padding between them.
fn parse_modinfo(data: &[u8]) -> Vec<(String, String)> {
    data.split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let s = String::from_utf8_lossy(s);
            let (k, v) = s.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

fn parse_versions(
    data: &[u8],
    class_bits: u8,
    endian: Endianness,
) -> Result<Vec<SymbolCrc>, ElfError> {
    let whole = data.len() / MODVERSION_RECORD * MODVERSION_RECORD;
    if whole != data.len() {
        return Err(ElfError::Malformed(format!(
            "__versions is {} bytes, not a whole number of {MODVERSION_RECORD}-byte records",
            data.len()
        )));
    }
    let crc_len = if class_bits == 64 { 8 } else { 4 };
    let mut out = Vec::with_capacity(data.len() / MODVERSION_RECORD);
    for rec in data.chunks_exact(MODVERSION_RECORD) {
        let crc = read_u32(
            rec,
            if endian == Endianness::Big {
                crc_len as u64 - 4
            } else {
                0
            },
            endian,
        )
        .unwrap_or(0);
        let name = &rec[crc_len..];
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        if end == 0 {
            continue;
        }
        out.push(SymbolCrc {
            name: String::from_utf8_lossy(&name[..end]).into_owned(),
            crc,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modinfo_splits_on_nul_and_first_equals() {
        let m = parse_modinfo(b"\0\0alias=a=b\0license=GPL\0\0depends=\0noequals\0");
        assert_eq!(
            m,
            vec![
                ("alias".into(), "a=b".into()),
                ("license".into(), "GPL".into()),
                ("depends".into(), "".into())
            ]
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for data in [
            &b""[..],
            b"\x7fEL",
            b"\x7fELF",
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0",
            b"\x7fELF\x07\x01\x01\0\0\0\0\0\0\0\0\0",
            b"hello world, this is not a module at all",
            SIGNATURE_MAGIC,
        ] {
            assert!(ModuleInfo::parse(data).is_err(), "{data:?}");
        }
    }

    #[test]
    fn compressed_data_is_named() {
        assert_eq!(
            ModuleInfo::parse(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0]),
            Err(ElfError::Compressed("zstd"))
        );
        assert_eq!(
            ModuleInfo::parse(b"\xfd7zXZ\0rest"),
            Err(ElfError::Compressed("xz"))
        );
    }

    #[test]
    fn signature_longer_than_file_is_reported() {
        let mut d = b"\x7fELF".to_vec();
        d.extend_from_slice(&[0, 0, 2, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        d.extend_from_slice(SIGNATURE_MAGIC);
        assert!(matches!(
            ModuleInfo::parse(&d),
            Err(ElfError::BadSignature(_))
        ));
    }
}
