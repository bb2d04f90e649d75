//! Every ioctl of dahdi-sys's table is either wrapped by a method that is
//! found in the documentation by the ioctl's C name, or listed in
//! `dahdi::RAW_ONLY_IOCTLS` with the reason; and what the documentation says
//! is true.
//!
//! The crate's sources are read as text (a small Rust lexer: comments,
//! strings and character literals are skipped, so their braces do not
//! count). An ioctl is *issued* where a function names its dahdi-sys wrapper
//! (`sys::dahdi_setconf`); errors name it through the table's descriptor
//! (`ioctl::DAHDI_SETCONF`). The checks:
//!
//! 1. each ioctl of the table is issued somewhere or listed as raw-only, not
//!    both, not neither;
//! 2. each issued ioctl is the `#[doc(alias)]` of at least one public method;
//! 3. each alias names an ioctl of the table that its method reaches: issues
//!    itself or through the functions it calls (by name, transitively);
//! 4. a function that names a wrapper also names its descriptor, so that the
//!    error of a call names the ioctl it made.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    Str(String),
}

/// Tokens of Rust source, without comments, lifetimes and character
/// literals (none of which this test needs).
fn lex(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' || ((ch == 'r' || ch == 'b') && matches!(c.get(i + 1), Some('"' | '#')))
        {
            // Plain, byte and raw strings.
            let raw = ch == 'r' || (ch == 'b' && c.get(i + 1) == Some(&'r'));
            while c[i] != '"' && c[i] != '#' {
                i += 1;
            }
            let mut hashes = 0;
            while c[i] == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1; // the opening quote
            let mut s = String::new();
            loop {
                if !raw && c[i] == '\\' {
                    s.push(c[i + 1]);
                    i += 2;
                } else if c[i] == '"' && c[i + 1..].iter().take(hashes).all(|&h| h == '#') {
                    i += 1 + hashes;
                    break;
                } else {
                    s.push(c[i]);
                    i += 1;
                }
            }
            out.push(Tok::Str(s));
        } else if ch == '\'' {
            // A character literal ('x', '\n', '\'') or a lifetime ('a).
            if c.get(i + 1) == Some(&'\\') {
                i += 3;
                while c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    out
}

fn ident(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

/// A function of the sources: `fn name` with a body, or a signature
/// without one (a trait method, or a line of the channel types' `forward!`
/// lists, which the macro makes into public methods of the same name).
#[derive(Debug, Default)]
struct Func {
    name: String,
    public: bool,
    aliases: Vec<String>,
    /// Names called in the body: `name(`, `.name(`, `Type::name(`.
    calls: BTreeSet<String>,
    /// dahdi-sys wrappers named: `sys::dahdi_x`.
    wrappers: BTreeSet<String>,
    /// Descriptors named: `ioctl::DAHDI_X`.
    descriptors: BTreeSet<String>,
    file: String,
}

fn functions(file: &str, toks: &[Tok]) -> Vec<Func> {
    let mut funcs = Vec::new();
    let mut aliases: Vec<String> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Punct('#') if toks.get(i + 1) == Some(&Tok::Punct('[')) => {
                // An attribute: remember doc aliases until the next item.
                let mut depth = 0;
                let mut j = i + 1;
                loop {
                    match &toks[j] {
                        Tok::Punct('[') => depth += 1,
                        Tok::Punct(']') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Tok::Ident(a) if a == "alias" => {
                            if let (Some(Tok::Punct('=')), Some(Tok::Str(s))) =
                                (toks.get(j + 1), toks.get(j + 2))
                            {
                                aliases.push(s.clone());
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                i = j + 1;
            }
            Tok::Ident(kw) if kw == "fn" => {
                let Some(name) = ident(toks.get(i + 1)) else {
                    i += 1;
                    continue;
                };
                let public = i >= 1 && ident(toks.get(i - 1)) == Some("pub");
                let mut f = Func {
                    name: name.to_string(),
                    public,
                    aliases: std::mem::take(&mut aliases),
                    file: file.to_string(),
                    ..Func::default()
                };
                // The signature ends at the body's brace or at a semicolon.
                let mut j = i + 2;
                let mut parens = 0;
                while j < toks.len() {
                    match toks[j] {
                        Tok::Punct('(') | Tok::Punct('<') => parens += 1,
                        Tok::Punct(')') | Tok::Punct('>') => parens -= 1,
                        Tok::Punct('{') | Tok::Punct(';') if parens <= 0 => break,
                        _ => {}
                    }
                    j += 1;
                }
                if toks.get(j) == Some(&Tok::Punct(';')) {
                    // A forward! line is a public method once expanded.
                    f.public |= !f.aliases.is_empty();
                    funcs.push(f);
                    i = j + 1;
                    continue;
                }
                let start = j;
                let mut depth = 0;
                loop {
                    match toks[j] {
                        Tok::Punct('{') => depth += 1,
                        Tok::Punct('}') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let body = &toks[start..j];
                for (k, t) in body.iter().enumerate() {
                    let Tok::Ident(id) = t else { continue };
                    if body.get(k + 1) == Some(&Tok::Punct('(')) {
                        f.calls.insert(id.clone());
                    }
                    let path = body.get(k + 1) == Some(&Tok::Punct(':'))
                        && body.get(k + 2) == Some(&Tok::Punct(':'));
                    match (id.as_str(), ident(body.get(k + 3))) {
                        ("sys", Some(w))
                            if path && (w.starts_with("dahdi_") || w.starts_with("wctdm_")) =>
                        {
                            f.wrappers.insert(w.to_string());
                        }
                        ("ioctl", Some(d)) if path => {
                            f.descriptors.insert(d.to_string());
                        }
                        _ => {}
                    }
                }
                funcs.push(f);
                // Nested functions are scanned as part of this body only.
                i = j + 1;
            }
            Tok::Ident(kw)
                if matches!(
                    kw.as_str(),
                    "struct"
                        | "enum"
                        | "impl"
                        | "mod"
                        | "const"
                        | "static"
                        | "use"
                        | "trait"
                        | "type"
                ) =>
            {
                aliases.clear();
                i += 1;
            }
            _ => i += 1,
        }
    }
    funcs
}

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
}

#[test]
fn every_ioctl_is_wrapped_and_found_by_its_c_name_or_left_raw_with_a_reason() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let table: BTreeSet<&str> = dahdi_sys::IOCTLS.iter().map(|&(n, _)| n).collect();
    let mut funcs: Vec<Func> = files
        .iter()
        .flat_map(|(f, src)| functions(f, &lex(src)))
        .collect();
    // dahdi-sys's structs share the wrappers' prefix (sys::dahdi_params is a
    // struct, sys::dahdi_get_params a wrapper): only the table's names count.
    for f in &mut funcs {
        f.wrappers
            .retain(|w| table.contains(w.to_uppercase().as_str()));
    }
    let raw_only: BTreeMap<&str, &str> = dahdi::RAW_ONLY_IOCTLS
        .iter()
        .map(|(i, why)| (i.name, *why))
        .collect();
    let mut errors = Vec::new();

    // What each function name issues, directly or through its calls.
    let mut reached: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for f in &funcs {
        reached
            .entry(&f.name)
            .or_default()
            .extend(f.wrappers.iter().map(|w| w.to_uppercase()));
    }
    loop {
        let mut grew = false;
        for f in &funcs {
            let mut add = BTreeSet::new();
            for c in &f.calls {
                if let Some(r) = reached.get(c.as_str()) {
                    add.extend(r.iter().cloned());
                }
            }
            let mine = reached.get_mut(f.name.as_str()).unwrap();
            let before = mine.len();
            mine.extend(add);
            grew |= mine.len() != before;
        }
        if !grew {
            break;
        }
    }

    let issued: BTreeSet<String> = funcs
        .iter()
        .flat_map(|f| f.wrappers.iter().map(|w| w.to_uppercase()))
        .collect();
    // 1.
    for name in &table {
        match (issued.contains(*name), raw_only.contains_key(name)) {
            (true, true) => errors.push(format!("{name} is wrapped and listed as raw-only")),
            (false, false) => errors.push(format!(
                "{name} is neither wrapped nor listed in RAW_ONLY_IOCTLS with a reason"
            )),
            _ => {}
        }
    }
    for name in raw_only.keys() {
        if !table.contains(name) {
            errors.push(format!(
                "RAW_ONLY_IOCTLS lists {name}, which the table lacks"
            ));
        }
    }
    // 2.
    let aliased: BTreeSet<&str> = funcs
        .iter()
        .filter(|f| f.public)
        .flat_map(|f| f.aliases.iter().map(String::as_str))
        .collect();
    for name in &issued {
        if !aliased.contains(name.as_str()) {
            errors.push(format!(
                "{name} is issued, but no public method carries #[doc(alias = \"{name}\")]"
            ));
        }
    }
    // 3. and 4.
    let mut aliases_checked = 0;
    for f in &funcs {
        for a in &f.aliases {
            if !table.contains(a.as_str()) {
                errors.push(format!(
                    "{}: {}: alias {a} is no ioctl of the table",
                    f.file, f.name
                ));
            } else if !reached[f.name.as_str()].contains(a) {
                errors.push(format!(
                    "{}: {} carries alias {a} but does not issue it",
                    f.file, f.name
                ));
            } else {
                aliases_checked += 1;
            }
        }
        for w in &f.wrappers {
            if !f.descriptors.contains(&w.to_uppercase()) {
                errors.push(format!(
                    "{}: {} calls sys::{w} but names no ioctl::{} for its errors",
                    f.file,
                    f.name,
                    w.to_uppercase()
                ));
            }
        }
    }
    println!(
        "{} ioctls in the table: {} wrapped, {} raw-only; {aliases_checked} doc aliases \
         on {} functions checked",
        table.len(),
        issued.len(),
        raw_only.len(),
        funcs.iter().filter(|f| !f.aliases.is_empty()).count()
    );
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// The lexer and the scan find what they must (so that the test above cannot
/// pass by finding nothing).
#[test]
fn the_scan_sees_aliases_calls_and_wrappers() {
    let src = r#"
        /// Doc with a brace { and a "string".
        #[doc(alias = "DAHDI_X")]
        pub fn outer(&self) -> Result<()> {
            let s = "}"; let c = '}'; let l: &'static str = "";
            helper(ioctl::DAHDI_X, sys::dahdi_x)
        }
        fn helper() {}
        forward! {
            #[doc(alias = "DAHDI_Y")]
            fn fwd(&self) -> Result<()>;
        }
    "#;
    let f = functions("x.rs", &lex(src));
    assert_eq!(f.len(), 3);
    assert_eq!(f[0].name, "outer");
    assert!(f[0].public);
    assert_eq!(f[0].aliases, ["DAHDI_X"]);
    assert!(f[0].calls.contains("helper"));
    assert!(f[0].wrappers.contains("dahdi_x"));
    assert!(f[0].descriptors.contains("DAHDI_X"));
    assert!(!f[1].public);
    assert_eq!((f[2].name.as_str(), f[2].public), ("fwd", true));
}
