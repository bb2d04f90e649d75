//! The `--json` documents: every one an object carrying the schema version and the command
//! that wrote it, so that programs reading them can tell a format they know from a newer one.
//!
//! What the version promises is written in loader/README.md ("JSON"): fields are only added
//! within a version; renaming or removing one, or changing its meaning, raises it.

use serde::Serialize;

use crate::error::Error;

/// The version of the `--json` format (README: "JSON").
pub const SCHEMA_VERSION: u32 = 1;

/// One document: the version and command, then the command's own fields.
#[derive(Debug, Serialize)]
struct Document<'a, T: Serialize> {
    schema_version: u32,
    command: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

/// `body` (a struct, whose fields become the document's) as the `--json` document of
/// `command`.
pub fn document<T: Serialize>(command: &str, body: &T) -> Result<String, Error> {
    serde_json::to_string_pretty(&Document {
        schema_version: SCHEMA_VERSION,
        command,
        body,
    })
    .map_err(|e| Error::Usage(format!("could not encode JSON: {e}")))
}

/// An error as the `--json` document of `command`: the sentence, the fix and the exit code.
pub fn error_document(command: &str, e: &Error) -> String {
    #[derive(Serialize)]
    struct Failure {
        error: String,
        fix: Option<String>,
        exit_code: i32,
    }
    let failure = Failure {
        error: e.to_string(),
        fix: e.fix().map(|f| f.to_string()),
        exit_code: e.exit_code() as i32,
    };
    // Strings, a number and an option always encode.
    document(command, &failure).unwrap_or_default()
}

/// An ELF machine (`e_machine`) by the name the kernel's architectures go by, for readers who
/// do not keep the ELF table at hand.
pub fn elf_machine_name(machine: u16) -> String {
    match machine {
        3 => "i386".into(),
        8 => "mips".into(),
        20 => "ppc".into(),
        21 => "ppc64".into(),
        22 => "s390".into(),
        40 => "arm".into(),
        62 => "x86-64".into(),
        183 => "aarch64".into(),
        243 => "riscv".into(),
        258 => "loongarch".into(),
        other => format!("unknown (e_machine {other})"),
    }
}

/// serde helper: an optional ELF machine by name.
pub fn serialize_elf_machine<S: serde::Serializer>(
    machine: &Option<u16>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match machine {
        Some(m) => s.serialize_some(&elf_machine_name(*m)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_by_name() {
        // EM_X86_64 and EM_AARCH64 from <elf.h>.
        assert_eq!(elf_machine_name(62), "x86-64");
        assert_eq!(elf_machine_name(183), "aarch64");
        assert_eq!(elf_machine_name(9999), "unknown (e_machine 9999)");
    }

    #[test]
    fn documents_start_with_version_and_command() {
        #[derive(Serialize)]
        struct Body {
            verdict: &'static str,
        }
        let text = document("status", &Body { verdict: "ok" }).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        assert_eq!(v["command"], "status");
        assert_eq!(v["verdict"], "ok");
        let e = error_document("verify", &Error::Usage("bad".into()));
        let v: serde_json::Value = serde_json::from_str(&e).unwrap();
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        assert_eq!(v["exit_code"], 64);
    }
}
