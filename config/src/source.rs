//! Maps key paths and byte offsets of a TOML document back to line and column, so that
//! every error can point at the key an engineer has to fix.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a key path: a table key or an index into an array (of tables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

impl From<&str> for PathSeg {
    fn from(k: &str) -> Self {
        PathSeg::Key(k.to_owned())
    }
}

impl From<usize> for PathSeg {
    fn from(i: usize) -> Self {
        PathSeg::Index(i)
    }
}

/// A dotted key path such as `intersection[0].phase[2].min_green_s`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<PathSeg>);

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    pub fn key(&self, k: &str) -> Self {
        let mut p = self.clone();
        p.0.push(PathSeg::Key(k.to_owned()));
        p
    }

    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(PathSeg::Index(i));
        p
    }
}

impl std::fmt::Display for KeyPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                PathSeg::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                PathSeg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// Line and column (both 1-based) of a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub col: usize,
}

/// The parsed document with spans, kept beside the typed model for error reporting.
pub struct SourceMap<'a> {
    text: &'a str,
    root: Option<Spanned<DeTable<'a>>>,
}

impl<'a> SourceMap<'a> {
    pub fn new(text: &'a str) -> Self {
        SourceMap { text, root: DeTable::parse(text).ok() }
    }

    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.text[line_start..offset].chars().count() + 1;
        Location { line, col }
    }

    /// Span of the key at `path` (the key itself, so the caret lands on the name), or of the
    /// closest ancestor that exists.
    pub fn span_of(&self, path: &KeyPath) -> Option<Range<usize>> {
        let root = self.root.as_ref()?;
        let mut best = root.span();
        let mut table: Option<&DeTable<'a>> = Some(root.get_ref());
        let mut array: Option<&[Spanned<DeValue<'a>>]> = None;
        for seg in &path.0 {
            let value = match seg {
                PathSeg::Key(k) => {
                    let Some(t) = table.take() else { break };
                    let Some((key, value)) = t.iter().find(|(key, _)| key.get_ref() == k) else { break };
                    best = key.span();
                    value
                }
                PathSeg::Index(i) => {
                    let Some(items) = array.take() else { break };
                    let Some(item) = items.get(*i) else { break };
                    best = item.span();
                    item
                }
            };
            table = None;
            array = None;
            match value.get_ref() {
                DeValue::Table(inner) => table = Some(inner),
                DeValue::Array(items) => array = Some(items),
                _ => {}
            }
        }
        Some(best)
    }

    /// The innermost key path at `offset`. Containers are searched whatever their own span
    /// says, because an array of tables is written in pieces all over the file.
    pub fn path_at(&self, offset: usize) -> KeyPath {
        let mut path = KeyPath::root();
        if let Some(root) = self.root.as_ref() {
            find_in_table(root.get_ref(), offset, &mut path);
        }
        path
    }
}

fn find_in_table(t: &DeTable<'_>, offset: usize, path: &mut KeyPath) -> bool {
    for (k, v) in t.iter() {
        path.0.push(PathSeg::Key(k.get_ref().to_string()));
        if contains(&k.span(), offset) || find_in_value(v, offset, path) {
            return true;
        }
        path.0.pop();
    }
    false
}

fn find_in_value(v: &Spanned<DeValue<'_>>, offset: usize, path: &mut KeyPath) -> bool {
    match v.get_ref() {
        DeValue::Table(t) => find_in_table(t, offset, path),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.0.push(PathSeg::Index(i));
                if find_in_value(item, offset, path) {
                    return true;
                }
                path.0.pop();
            }
            // Inside the array but on no element (a bracket or a comma): the array itself.
            contains(&v.span(), offset)
        }
        _ => contains(&v.span(), offset),
    }
}

fn contains(span: &Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset < span.end.max(span.start + 1)
}
