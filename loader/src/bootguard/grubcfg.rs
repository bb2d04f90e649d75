//! The boot menu as GRUB reads it from `/boot/grub/grub.cfg`, and which entry it starts.
//!
//! Debian's `grub-mkconfig` writes one `menuentry` for the newest kernel at the top, then a
//! `submenu` ("Advanced options") holding an entry per kernel, newest first, each with a
//! recovery twin. Every entry carries an identifier (`$menuentry_id_option 'ID'`) that
//! stays the same as long as the kernel and the root file system do. The entry GRUB starts
//! is `default`, set by the header `grub-mkconfig` writes: from `next_entry` when the
//! environment block has one (`grub-reboot`, used once and cleared), else from
//! `saved_entry` where `GRUB_DEFAULT=saved`, else the number or title the operator set.
//! A default is a number, a title or an identifier, and `>` steps into a submenu
//! (`1>2`, `gnulinux-advanced-…>gnulinux-6.1.0-57-amd64-advanced-…`).
//!
//! Only what a menu entry's `linux` command names is read here; nothing of the script runs.

/// One entry or submenu of the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    /// Its title.
    pub title: String,
    /// Its identifier (`$menuentry_id_option`), if it has one.
    pub id: Option<String>,
    /// What it is.
    pub kind: ItemKind,
}

/// An entry, or a submenu of items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    /// A `menuentry`: the kernel release its `linux` command starts (from the image's
    /// name, `vmlinuz-RELEASE`), and whether it is a recovery entry (`single` on the
    /// command line).
    Entry {
        /// The release, when the entry starts a Linux image named the Debian way.
        kernel: Option<String>,
        /// A recovery-mode entry.
        recovery: bool,
    },
    /// A `submenu`.
    Submenu(Vec<MenuItem>),
}

/// How grub.cfg chooses its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultSource {
    /// `set default="${saved_entry}"`: `GRUB_DEFAULT=saved`.
    Saved,
    /// A value written into the file (`GRUB_DEFAULT=0`, a title, an identifier).
    Fixed(String),
}

/// What grub.cfg says about starting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrubMenu {
    /// The top-level items.
    pub items: Vec<MenuItem>,
    /// Where the default comes from when `next_entry` is empty; `None` if the file sets
    /// none (GRUB then starts the first entry).
    pub default: Option<DefaultSource>,
    /// The file loads the environment block and honours `next_entry` (Debian's header
    /// does): only then can the environment steer the next boot.
    pub reads_next_entry: bool,
}

/// Splits one line of GRUB script into words, as GRUB's lexer quotes them: `'…'` keeps
/// everything, `"…"` and bare words take `\` as an escape. Variables are kept as written.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                cur.push(n);
                            }
                        }
                        _ => cur.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// An open `menuentry` or `submenu` while its body is read.
struct Open {
    item: MenuItem,
    /// Brace depth at which it opened.
    depth: usize,
}

impl GrubMenu {
    /// Reads grub.cfg's text.
    pub fn parse(text: &str) -> GrubMenu {
        let mut top: Vec<MenuItem> = Vec::new();
        let mut stack: Vec<Open> = Vec::new();
        let mut depth = 0usize;
        let mut default = None;
        let mut reads_next_entry = false;
        let mut saw_load_env = false;
        for line in text.lines() {
            let w = words(line);
            let Some(first) = w.first().map(String::as_str) else {
                continue;
            };
            match first {
                "menuentry" | "submenu" => {
                    let title = w.get(1).cloned().unwrap_or_default();
                    let id = w
                        .windows(2)
                        .find(|p| p[0] == "$menuentry_id_option" || p[0] == "--id")
                        .map(|p| p[1].clone());
                    let kind = if first == "submenu" {
                        ItemKind::Submenu(Vec::new())
                    } else {
                        ItemKind::Entry {
                            kernel: None,
                            recovery: false,
                        }
                    };
                    let opens = w.last().is_some_and(|l| l == "{");
                    let item = MenuItem { title, id, kind };
                    if opens {
                        depth += 1;
                        stack.push(Open { item, depth });
                    } else {
                        push(&mut stack, &mut top, item);
                    }
                }
                "linux" | "linuxefi" | "linux16" => {
                    if let Some(Open {
                        item:
                            MenuItem {
                                kind: ItemKind::Entry { kernel, recovery },
                                ..
                            },
                        ..
                    }) = stack.last_mut()
                    {
                        *kernel = w
                            .get(1)
                            .and_then(|p| p.rsplit('/').next())
                            .and_then(|f| f.strip_prefix("vmlinuz-"))
                            .map(String::from);
                        *recovery = w.iter().skip(2).any(|a| a == "single" || a == "recovery");
                    }
                }
                "load_env" => saw_load_env = true,
                "set" => {
                    if let Some(v) = w.get(1).and_then(|a| a.strip_prefix("default=")) {
                        if v == "${next_entry}" {
                            reads_next_entry = saw_load_env;
                        } else if v == "${saved_entry}" {
                            default = Some(DefaultSource::Saved);
                        } else {
                            default = Some(DefaultSource::Fixed(v.to_string()));
                        }
                    }
                }
                "}" => {
                    if stack.last().is_some_and(|o| o.depth == depth) {
                        let open = stack.pop().expect("checked above");
                        push(&mut stack, &mut top, open.item);
                    }
                    depth = depth.saturating_sub(1);
                }
                _ => {
                    // Any other block (a function, `if … {`-less shell) opens with a
                    // trailing brace.
                    if w.last().is_some_and(|l| l == "{") {
                        depth += 1;
                    }
                }
            }
        }
        // An unterminated item still counts, as far as it was read.
        while let Some(open) = stack.pop() {
            push(&mut stack, &mut top, open.item);
        }
        GrubMenu {
            items: top,
            default,
            reads_next_entry,
        }
    }

    /// The item a default value names: a number, title or identifier at each level,
    /// `>` stepping into submenus; the path of identifiers (or indices) to it.
    pub fn resolve(&self, value: &str) -> Option<(&MenuItem, String)> {
        let mut items = &self.items;
        let mut found: Option<&MenuItem> = None;
        let mut path = Vec::new();
        for part in value.split('>') {
            let (i, item) = match part.parse::<usize>() {
                Ok(n) => (n, items.get(n)?),
                Err(_) => items
                    .iter()
                    .enumerate()
                    .find(|(_, it)| it.id.as_deref() == Some(part) || it.title == part)?,
            };
            path.push(item.id.clone().unwrap_or_else(|| i.to_string()));
            found = Some(item);
            items = match &item.kind {
                ItemKind::Submenu(sub) => sub,
                ItemKind::Entry { .. } => &EMPTY,
            };
        }
        // A submenu named as the default starts its first entry.
        let mut item = found?;
        while let ItemKind::Submenu(sub) = &item.kind {
            let first = sub.first()?;
            path.push(first.id.clone().unwrap_or_else(|| "0".into()));
            item = first;
        }
        Some((item, path.join(">")))
    }

    /// The entry GRUB starts when nothing is chosen at the menu, given the environment's
    /// `next_entry` and `saved_entry`.
    pub fn starts(
        &self,
        next_entry: Option<&str>,
        saved_entry: Option<&str>,
    ) -> Option<(&MenuItem, String)> {
        if self.reads_next_entry {
            if let Some(n) = next_entry.filter(|n| !n.is_empty()) {
                return self.resolve(n);
            }
        }
        self.natural(saved_entry)
    }

    /// The entry GRUB starts with `next_entry` empty.
    pub fn natural(&self, saved_entry: Option<&str>) -> Option<(&MenuItem, String)> {
        let value = match &self.default {
            Some(DefaultSource::Saved) => saved_entry.filter(|s| !s.is_empty()).unwrap_or("0"),
            Some(DefaultSource::Fixed(v)) => v.as_str(),
            None => "0",
        };
        // GRUB falls back to the first entry when the default names nothing.
        self.resolve(value).or_else(|| self.resolve("0"))
    }

    /// Every normal (not recovery) Linux entry, with the path of identifiers that names it.
    pub fn kernel_entries(&self) -> Vec<(String, String)> {
        fn walk(items: &[MenuItem], prefix: &str, out: &mut Vec<(String, String)>) {
            for (i, it) in items.iter().enumerate() {
                let step = it.id.clone().unwrap_or_else(|| i.to_string());
                let path = if prefix.is_empty() {
                    step
                } else {
                    format!("{prefix}>{step}")
                };
                match &it.kind {
                    ItemKind::Entry {
                        kernel: Some(k),
                        recovery: false,
                    } => out.push((k.clone(), path)),
                    ItemKind::Entry { .. } => {}
                    ItemKind::Submenu(sub) => walk(sub, &path, out),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.items, "", &mut out);
        out
    }
}

static EMPTY: Vec<MenuItem> = Vec::new();

fn push(stack: &mut [Open], top: &mut Vec<MenuItem>, item: MenuItem) {
    match stack.last_mut() {
        Some(Open {
            item:
                MenuItem {
                    kind: ItemKind::Submenu(sub),
                    ..
                },
            ..
        }) => sub.push(item),
        // An entry inside an entry is not GRUB's menu; keep it at the top.
        _ => top.push(item),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// grub.cfg as Debian 12's grub-mkconfig writes it (00_header and 10_linux), two
    /// kernels, trimmed of the video and font setup.
    pub const DEBIAN: &str = include_str!("testdata/debian12-grub.cfg");

    fn kernel(item: &MenuItem) -> Option<&str> {
        match &item.kind {
            ItemKind::Entry { kernel, .. } => kernel.as_deref(),
            ItemKind::Submenu(_) => None,
        }
    }

    #[test]
    fn debians_menu_is_read_with_its_identifiers() {
        let m = GrubMenu::parse(DEBIAN);
        assert!(m.reads_next_entry);
        assert_eq!(m.default, Some(DefaultSource::Fixed("0".into())));
        assert_eq!(m.items.len(), 3, "{m:#?}");
        assert_eq!(
            m.kernel_entries(),
            vec![
                ("6.1.0-58-amd64".into(), "gnulinux-simple-0b1c".into()),
                (
                    "6.1.0-58-amd64".into(),
                    "gnulinux-advanced-0b1c>gnulinux-6.1.0-58-amd64-advanced-0b1c".into()
                ),
                (
                    "6.1.0-57-amd64".into(),
                    "gnulinux-advanced-0b1c>gnulinux-6.1.0-57-amd64-advanced-0b1c".into()
                ),
            ]
        );
        let (first, path) = m.natural(None).unwrap();
        assert_eq!(
            (kernel(first), path.as_str()),
            (Some("6.1.0-58-amd64"), "gnulinux-simple-0b1c")
        );
    }

    #[test]
    fn defaults_resolve_by_number_title_and_identifier() {
        let m = GrubMenu::parse(DEBIAN);
        for value in [
            "1>2",
            "gnulinux-advanced-0b1c>gnulinux-6.1.0-57-amd64-advanced-0b1c",
            "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-57-amd64",
        ] {
            let (item, path) = m.resolve(value).unwrap_or_else(|| panic!("{value}"));
            assert_eq!(kernel(item), Some("6.1.0-57-amd64"), "{value}");
            assert_eq!(
                path,
                "gnulinux-advanced-0b1c>gnulinux-6.1.0-57-amd64-advanced-0b1c"
            );
        }
        assert!(m.resolve("9").is_none());
        assert!(m.resolve("1>9").is_none());
        // next_entry wins; a default naming nothing falls back to the first entry.
        let (item, _) = m.starts(Some("1>2"), None).unwrap();
        assert_eq!(kernel(item), Some("6.1.0-57-amd64"));
        let saved =
            GrubMenu::parse(&DEBIAN.replace("set default=\"0\"", "set default=\"${saved_entry}\""));
        assert_eq!(saved.default, Some(DefaultSource::Saved));
        let (item, _) = saved.natural(Some("1>2")).unwrap();
        assert_eq!(kernel(item), Some("6.1.0-57-amd64"));
        let (item, _) = saved.natural(Some("gone")).unwrap();
        assert_eq!(kernel(item), Some("6.1.0-58-amd64"));
    }

    #[test]
    fn a_menu_without_load_env_cannot_be_steered() {
        let m = GrubMenu::parse(&DEBIAN.replace("  load_env\n", ""));
        assert!(!m.reads_next_entry);
        let (item, _) = m.starts(Some("1>2"), None).unwrap();
        assert_eq!(kernel(item), Some("6.1.0-58-amd64"));
    }

    #[test]
    fn words_follow_grubs_quoting() {
        assert_eq!(
            words(r#"menuentry 'It'\''s "x"' --id a\ b "c\"d" # comment"#),
            vec!["menuentry", "It's \"x\"", "--id", "a b", "c\"d"]
        );
    }
}
