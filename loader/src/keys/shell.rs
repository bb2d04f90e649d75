//! Shell variable assignments read without a shell.
//!
//! DKMS sources `/etc/dkms/framework.conf` and `/etc/dkms/framework.conf.d/*.conf` with
//! bash (`read_framework_conf()` and `safe_source()` in dkms), and reads `/etc/os-release`
//! the same way. The loader runs as root at boot and must never execute such a file, so it
//! reads the one form these files use, `NAME=value` with the value quoted or not, and sets
//! aside every line it cannot read without running something (command substitution,
//! conditionals, parameter expansions other than a plain `$NAME`), saying so.

use std::fmt;

/// One part of a value: literal text or a variable to expand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text as written (after quote removal).
    Literal(String),
    /// `$NAME` or `${NAME}`.
    Variable(String),
}

/// A value as written: literal text and plain variable references.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Value(pub Vec<Part>);

impl Value {
    /// The value with each variable replaced by `lookup`; `Err(name)` names the first
    /// variable `lookup` does not know.
    pub fn expand(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Variable(name) => out.push_str(&lookup(name).ok_or_else(|| name.clone())?),
            }
        }
        Ok(out)
    }

    /// The value when it has no variables.
    pub fn literal(&self) -> Option<String> {
        self.expand(|_| None).ok()
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.0 {
            match part {
                Part::Literal(s) => f.write_str(s)?,
                Part::Variable(n) => write!(f, "${{{n}}}")?,
            }
        }
        Ok(())
    }
}

/// What one line of a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Blank or a comment.
    Nothing,
    /// `NAME=value`.
    Assignment {
        /// The variable.
        name: String,
        /// Its value.
        value: Value,
    },
    /// An assignment to `name` whose value the loader cannot read without running it.
    UnreadableAssignment {
        /// The variable.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Anything else: shell code the loader does not run.
    Code {
        /// Why it was not read.
        reason: &'static str,
    },
}

/// Reads one line.
pub fn parse_line(line: &str) -> Line {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut s = line.trim_start_matches([' ', '\t']);
    if s.is_empty() || s.starts_with('#') {
        return Line::Nothing;
    }
    if let Some(rest) = s.strip_prefix("export") {
        if rest.starts_with([' ', '\t']) {
            s = rest.trim_start_matches([' ', '\t']);
        }
    }
    let name_len = s
        .char_indices()
        .take_while(|&(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
        .count();
    let (name, rest) = s.split_at(name_len);
    let Some(value_text) = rest.strip_prefix('=') else {
        return Line::Code {
            reason: "it is not a NAME=value assignment",
        };
    };
    if name.is_empty() {
        return Line::Code {
            reason: "it is not a NAME=value assignment",
        };
    }
    let unreadable = |reason| Line::UnreadableAssignment {
        name: name.to_string(),
        reason,
    };
    let (value, after) = match parse_word(value_text) {
        Ok(v) => v,
        Err(reason) => return unreadable(reason),
    };
    let after = after.trim_start_matches([' ', '\t']);
    if !(after.is_empty() || after.starts_with('#')) {
        return unreadable("more follows the value on its line (a command, or a second statement)");
    }
    Line::Assignment {
        name: name.to_string(),
        value,
    }
}

/// One shell word from the start of `s`: returns the value and what follows it.
fn parse_word(s: &str) -> Result<(Value, &str), &'static str> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = s.char_indices().peekable();
    let flush = |literal: &mut String, parts: &mut Vec<Part>| {
        if !literal.is_empty() {
            parts.push(Part::Literal(std::mem::take(literal)));
        }
    };
    if s.starts_with('~') {
        return Err("it starts with ~, a home directory the loader does not expand");
    }
    while let Some(&(i, c)) = chars.peek() {
        match c {
            ' ' | '\t' => {
                flush(&mut literal, &mut parts);
                return Ok((Value(parts), &s[i..]));
            }
            '\'' => {
                chars.next();
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => literal.push(c),
                        None => return Err("a single quote is not closed on its line"),
                    }
                }
            }
            '"' => {
                chars.next();
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, c @ ('$' | '`' | '"' | '\\'))) => literal.push(c),
                            Some((_, c)) => {
                                literal.push('\\');
                                literal.push(c);
                            }
                            None => return Err("a double quote is not closed on its line"),
                        },
                        Some((_, '$')) => {
                            flush(&mut literal, &mut parts);
                            parts.push(Part::Variable(variable(&mut chars)?));
                        }
                        Some((_, '`')) => return Err("it runs a command (`...`)"),
                        Some((_, c)) => literal.push(c),
                        None => return Err("a double quote is not closed on its line"),
                    }
                }
            }
            '\\' => {
                chars.next();
                match chars.next() {
                    Some((_, c)) => literal.push(c),
                    None => return Err("it continues on the next line"),
                }
            }
            '$' => {
                chars.next();
                flush(&mut literal, &mut parts);
                parts.push(Part::Variable(variable(&mut chars)?));
            }
            '`' => return Err("it runs a command (`...`)"),
            ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                return Err("it has shell operators (; & | < > ( ))")
            }
            _ => {
                chars.next();
                literal.push(c);
            }
        }
    }
    flush(&mut literal, &mut parts);
    Ok((Value(parts), ""))
}

/// The variable name after a `$`: `NAME` or `{NAME}`; anything else would need a shell.
fn variable(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, &'static str> {
    let braced = chars.peek().is_some_and(|&(_, c)| c == '{');
    if braced {
        chars.next();
    }
    let mut name = String::new();
    while let Some(&(_, c)) = chars.peek() {
        if c == '_' || c.is_ascii_alphabetic() || (!name.is_empty() && c.is_ascii_digit()) {
            name.push(c);
            chars.next();
        } else {
            break;
        }
    }
    if name.is_empty() {
        return Err("it uses $ for something other than a plain variable ($(...), $1, ...)");
    }
    if braced {
        match chars.next() {
            Some((_, '}')) => {}
            _ => return Err("it uses a ${...} expansion other than a plain ${NAME}"),
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Value {
        Value(vec![Part::Literal(s.into())])
    }

    fn assign(line: &str) -> (String, Value) {
        match parse_line(line) {
            Line::Assignment { name, value } => (name, value),
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    #[test]
    fn assignments_as_bash_reads_them() {
        assert_eq!(assign("a=/x/y"), ("a".into(), lit("/x/y")));
        assert_eq!(assign("  a=\"/x y\"  # c"), ("a".into(), lit("/x y")));
        assert_eq!(assign("a='/x $y'"), ("a".into(), lit("/x $y")));
        assert_eq!(assign("a=/x\\ y"), ("a".into(), lit("/x y")));
        assert_eq!(assign("a=\"q\\\"q\\$\\n\""), ("a".into(), lit("q\"q$\\n")));
        assert_eq!(assign("export mok_certificate=/k.der\r").1, lit("/k.der"));
        assert_eq!(assign("a=").1, Value(vec![]));
        assert_eq!(assign("a=b#c").1, lit("b#c"));
        assert_eq!(
            assign("a=/k/$kernelver/x\"${kernelver}\"").1,
            Value(vec![
                Part::Literal("/k/".into()),
                Part::Variable("kernelver".into()),
                Part::Literal("/x".into()),
                Part::Variable("kernelver".into()),
            ])
        );
        let v = assign("a=/k/$kernelver.der").1;
        assert_eq!(
            v.expand(|n| (n == "kernelver").then(|| "6.1".into())),
            Ok("/k/6.1.der".into())
        );
        assert_eq!(v.expand(|_| None), Err("kernelver".into()));
        assert_eq!(v.literal(), None);
    }

    #[test]
    fn nothing_is_run_and_everything_unread_is_named() {
        assert_eq!(parse_line(""), Line::Nothing);
        assert_eq!(parse_line("   # mok_certificate=/x"), Line::Nothing);
        for line in [
            "mok_certificate=$(cat /etc/key)",
            "mok_certificate=`cat /etc/key`",
            "mok_certificate=\"${x:-/y}\"",
            "mok_certificate=/x; rm -rf /",
            "mok_certificate=/x other",
            "mok_certificate='/x",
            "mok_certificate=~/x",
            "mok_certificate=/x\\",
            "mok_certificate=$1",
        ] {
            assert!(
                matches!(parse_line(line), Line::UnreadableAssignment { ref name, .. } if name == "mok_certificate"),
                "{line:?}: {:?}",
                parse_line(line)
            );
        }
        for line in ["if [ -f /x ]; then", "source /etc/other", "1a=b", "=b"] {
            assert!(matches!(parse_line(line), Line::Code { .. }), "{line:?}");
        }
    }
}
