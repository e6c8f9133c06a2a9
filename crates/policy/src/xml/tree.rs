//! A TrustFramework file read into a small element tree: local names, attribute values and
//! text with entities resolved, `{Settings:Name}` substituted, and every element's position.
//!
//! Hostile input is refused before it can cost anything: a DTD (`<!DOCTYPE`) is an error, so
//! no entity is ever declared or expanded (billion laughs, external entities); the size and
//! nesting depth are bounded by [`Limits`](super::Limits).

use std::collections::BTreeMap;
use std::rc::Rc;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::diagnostic::Diagnostic;
use crate::model::Span;

use super::Limits;

/// B2C's policy namespace (`trustframeworkpolicy.md`).
pub const NAMESPACE: &str = "http://schemas.microsoft.com/online/cpim/schemas/2013/06";

#[derive(Debug, Clone)]
pub struct Element {
    /// The local name (`TechnicalProfile`), prefix dropped.
    pub name: String,
    /// Attributes by local name, `xmlns` and `xsi:`/`xsd:` ones left out.
    pub attrs: Vec<(String, String)>,
    /// The element's own text, entities resolved (not trimmed).
    pub text: String,
    /// Shared, so that a merged policy is cloned cheaply and copied only where a child
    /// policy changes it (`Rc::make_mut`).
    pub children: Vec<Rc<Element>>,
    pub span: Span,
}

impl Element {
    pub fn new(name: &str, span: Span) -> Self {
        Self {
            name: name.to_owned(),
            attrs: Vec::new(),
            text: String::new(),
            children: Vec::new(),
            span,
        }
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_attr(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.attrs.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value,
            None => self.attrs.push((name.to_owned(), value)),
        }
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name).map(|c| &**c)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children
            .iter()
            .filter(move |c| c.name == name)
            .map(|c| &**c)
    }

    /// `<Parent><Name/>…</Parent>`: the `Name` children of the `Parent` child.
    pub fn list<'a>(
        &'a self,
        parent: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.child(parent)
            .into_iter()
            .flat_map(move |p| p.children_named(name))
    }

    /// The trimmed text, `None` when empty.
    pub fn value(&self) -> Option<&str> {
        Some(self.text.trim()).filter(|t| !t.is_empty())
    }

    /// The trimmed text of a child, `None` when absent or empty.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).and_then(Element::value)
    }
}

/// Byte offset → line and column (1-based; the column counts characters).
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { text, starts }
    }

    fn span(&self, file: &str, offset: usize, bom: usize) -> Span {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        // The BOM is not a column of the first line.
        let column = if line == 1 {
            column.saturating_sub(bom).max(1)
        } else {
            column
        };
        Span::new(
            file,
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        )
    }
}

/// What parsing needs besides the bytes.
pub struct ParseContext<'a> {
    pub file: &'a str,
    pub settings: &'a BTreeMap<String, String>,
    pub limits: Limits,
}

/// Parses one file. Errors are every problem found before parsing had to stop.
pub fn parse(ctx: &ParseContext<'_>, bytes: &[u8]) -> Result<Element, Vec<Diagnostic>> {
    let start = Span::new(ctx.file, 1, 1);
    if bytes.len() > ctx.limits.max_file_bytes {
        return Err(vec![Diagnostic::error(
            &start,
            format!(
                "the file is {} bytes; policy files may be at most {} bytes",
                bytes.len(),
                ctx.limits.max_file_bytes
            ),
        )]);
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(vec![Diagnostic::error(
            &start,
            "the file is UTF-16: save policy files as UTF-8",
        )]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let lines = Lines::new(std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""));
            return Err(vec![Diagnostic::error(
                &lines.span(ctx.file, e.valid_up_to(), 0),
                "the file is not valid UTF-8",
            )]);
        }
    };
    let bom = if text.starts_with('\u{FEFF}') { 1 } else { 0 };
    let lines = Lines::new(text);
    let body = &text[bom * 3..];
    let mut parser = Parser {
        ctx,
        lines: &lines,
        offset: bom * 3,
        bom,
        errors: Vec::new(),
    };
    match parser.run(body) {
        Ok(root) if parser.errors.is_empty() => Ok(root),
        Ok(_) => Err(parser.errors),
        Err(e) => {
            parser.errors.push(e);
            Err(parser.errors)
        }
    }
}

struct Parser<'a> {
    ctx: &'a ParseContext<'a>,
    lines: &'a Lines<'a>,
    /// Where `body` starts in the file.
    offset: usize,
    bom: usize,
    errors: Vec<Diagnostic>,
}

impl Parser<'_> {
    fn span(&self, at: u64) -> Span {
        let at = usize::try_from(at).unwrap_or(usize::MAX);
        self.lines
            .span(self.ctx.file, at.saturating_add(self.offset), self.bom)
    }

    fn run(&mut self, body: &str) -> Result<Element, Diagnostic> {
        let mut reader = Reader::from_str(body);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        loop {
            let at = reader.buffer_position();
            let event = reader.read_event().map_err(|e| {
                Diagnostic::error(
                    &self.span(reader.error_position()),
                    format!("malformed XML: {e}"),
                )
            })?;
            match event {
                Event::DocType(_) => {
                    return Err(Diagnostic::error(
                        &self.span(at),
                        "a DTD (<!DOCTYPE …>) is not allowed in a policy file: entities are never expanded",
                    ));
                }
                Event::Start(start) | Event::Empty(start) if root.is_some() => {
                    let _ = start;
                    return Err(Diagnostic::error(
                        &self.span(at),
                        "malformed XML: content after the root element",
                    ));
                }
                Event::Start(start) => {
                    if stack.len() >= self.ctx.limits.max_depth {
                        return Err(Diagnostic::error(
                            &self.span(at),
                            format!(
                                "elements are nested more than {} deep",
                                self.ctx.limits.max_depth
                            ),
                        ));
                    }
                    stack.push(self.element(&start, at));
                }
                Event::Empty(start) => {
                    let element = self.element(&start, at);
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Rc::new(element)),
                        None => root = Some(element),
                    }
                }
                Event::End(_) => {
                    if let Some(mut done) = stack.pop() {
                        let substituted = self.substitute(&done.text, &done.span);
                        done.text = substituted;
                        match stack.last_mut() {
                            Some(parent) => parent.children.push(Rc::new(done)),
                            None => root = Some(done),
                        }
                    }
                }
                Event::Text(t) => {
                    let s = t.decode().map_err(|e| {
                        Diagnostic::error(&self.span(at), format!("malformed XML: {e}"))
                    })?;
                    match stack.last_mut() {
                        Some(e) => e.text.push_str(&s),
                        None if s.trim().is_empty() => {}
                        None => {
                            return Err(Diagnostic::error(
                                &self.span(at),
                                "malformed XML: text outside the root element",
                            ));
                        }
                    }
                }
                Event::CData(t) => {
                    let s = t.decode().map_err(|e| {
                        Diagnostic::error(&self.span(at), format!("malformed XML: {e}"))
                    })?;
                    if let Some(e) = stack.last_mut() {
                        e.text.push_str(&s);
                    }
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        Ok(None) => {
                            let name = r.decode().unwrap_or_default();
                            quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned)
                        }
                        Err(_) => None,
                    };
                    let Some(resolved) = resolved else {
                        return Err(Diagnostic::error(
                            &self.span(at),
                            format!(
                                "unknown entity '&{};' (only XML's predefined entities and character references are allowed)",
                                r.decode().unwrap_or_default()
                            ),
                        ));
                    };
                    if let Some(e) = stack.last_mut() {
                        e.text.push_str(&resolved);
                    }
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
                Event::Eof => break,
            }
        }
        if let Some(open) = stack.last() {
            return Err(Diagnostic::error(
                &open.span,
                format!("malformed XML: <{}> is never closed", open.name),
            ));
        }
        root.ok_or_else(|| {
            Diagnostic::error(
                &Span::new(self.ctx.file, 1, 1),
                "the file has no root element",
            )
        })
    }

    fn element(&mut self, start: &BytesStart<'_>, at: u64) -> Element {
        let span = self.span(at);
        let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        let mut element = Element::new(&name, span);
        for attr in start.attributes() {
            let attr = match attr {
                Ok(a) => a,
                Err(e) => {
                    self.errors.push(Diagnostic::error(
                        &element.span,
                        format!("malformed XML attribute in <{name}>: {e}"),
                    ));
                    continue;
                }
            };
            let key = attr.key;
            let prefix = key
                .prefix()
                .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned());
            let local = String::from_utf8_lossy(key.local_name().as_ref()).into_owned();
            if key.as_ref() == b"xmlns" {
                let value = attr.unescape_value().unwrap_or_default();
                element.set_attr("xmlns", value.into_owned());
                continue;
            }
            if prefix.is_some() {
                // xmlns:xsi, xsi:type and the like say nothing a policy needs.
                continue;
            }
            match attr.unescape_value() {
                Ok(v) => {
                    let v = self.substitute(&v, &element.span);
                    element.attrs.push((local, v));
                }
                Err(e) => self.errors.push(Diagnostic::error(
                    &element.span,
                    format!("attribute '{local}' of <{name}>: {e} (DTD entities are not allowed)"),
                )),
            }
        }
        element
    }

    /// Replaces `{Settings:Name}` with the configured value; an unknown name is an error.
    fn substitute(&mut self, text: &str, span: &Span) -> String {
        const OPEN: &str = "{Settings:";
        if !text.contains(OPEN) {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find(OPEN) {
            out.push_str(&rest[..i]);
            let after = &rest[i + OPEN.len()..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            let value = self.ctx.settings.get(name).or_else(|| {
                self.ctx
                    .settings
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            });
            match value {
                Some(v) => out.push_str(v),
                None => {
                    let hint = crate::diagnostic::did_you_mean(
                        name,
                        self.ctx.settings.keys().map(String::as_str),
                    );
                    self.errors.push(Diagnostic::error(
                        span,
                        format!(
                            "unknown setting '{{Settings:{name}}}': it is not in the settings{hint}"
                        ),
                    ));
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Element, Vec<Diagnostic>> {
        let settings = BTreeMap::from([("Api".to_owned(), "https://api.test".to_owned())]);
        let ctx = ParseContext {
            file: "t.xml",
            settings: &settings,
            limits: Limits::default(),
        };
        parse(&ctx, text.as_bytes())
    }

    #[test]
    fn keeps_positions_entities_and_settings() {
        let root = parse_str(
            "\u{FEFF}<?xml version=\"1.0\"?>\n<a xmlns=\"x\" xmlns:xsi=\"y\" xsi:type=\"z\">\n  <b k=\"{Settings:Api}/&amp;\">t&lt;&#65;</b>\n</a>",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(root.attrs, vec![("xmlns".to_owned(), "x".to_owned())]);
        let b = root.child("b").unwrap_or_else(|| panic!("no b"));
        assert_eq!(b.span, Span::new("t.xml", 3, 3));
        assert_eq!(b.attr("k"), Some("https://api.test/&"));
        assert_eq!(b.text, "t<A");
        assert_eq!(root.span, Span::new("t.xml", 2, 1));
    }

    #[test]
    fn refuses_dtds_bad_nesting_and_unknown_settings() {
        let e = parse_str("<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY x \"y\">]>\n<a>&x;</a>")
            .err()
            .unwrap_or_default();
        assert_eq!(e[0].span, Span::new("t.xml", 2, 1), "{e:?}");
        assert!(e[0].message.contains("DTD"));
        let e = parse_str("<a>\n<b></c></a>").err().unwrap_or_default();
        assert_eq!(e[0].span.line, 2, "{e:?}");
        let e = parse_str("<a k=\"{Settings:Apj}\"/>")
            .err()
            .unwrap_or_default();
        assert!(e[0].message.contains("did you mean 'Api'"), "{e:?}");
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        let e = parse_str(&deep).err().unwrap_or_default();
        assert!(e[0].message.contains("nested"), "{e:?}");
    }
}
