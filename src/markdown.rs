//! Markdown for assistant and staff messages, rendered to HTML that is safe to insert: raw HTML in
//! the source is shown as text, links keep only http, https and mailto targets and open with
//! `rel="noopener noreferrer"`, images become links.
//!
//! The subset chat replies use, written here rather than taken from a CommonMark crate so that the
//! customer's bundle stays light (a full parser with its entity tables weighed about a tenth of
//! the window's WASM): paragraphs and line breaks, ATX headings, fenced code (an unclosed fence
//! runs to the end, as while a reply streams), thematic breaks, block quotes, bullet, ordered and
//! task lists (nested by indentation, tight or loose), GFM tables, emphasis, strong emphasis and
//! strikethrough by CommonMark's delimiter rules, code spans, links, images, autolinks, backslash
//! escapes and common character references. Indented code blocks, setext headings and link
//! reference definitions read as paragraphs. The server renders the same way for the first paint,
//! so hydration finds the HTML it would have made.

/// Renders Markdown to sanitised HTML.
pub fn to_safe_html(source: &str) -> String {
    let mut out = Out { s: String::with_capacity(source.len() * 3 / 2), plain: false };
    out.blocks(&parse_blocks(&lines(source), 0), true);
    out.s
}

/// The text of Markdown without its marks, on one line (list previews): `**Steps** 1. one`
/// reads `Steps one`. Raw HTML stays as its text, as in [`to_safe_html`].
pub fn to_plain_text(source: &str) -> String {
    let mut out = Out { s: String::with_capacity(source.len()), plain: true };
    out.blocks(&parse_blocks(&lines(source), 0), true);
    out.s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Quotes and lists inside each other deeper than this read as text (no unbounded recursion).
const MAX_DEPTH: usize = 12;

fn lines(source: &str) -> Vec<&str> {
    source.lines().collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Align {
    None,
    Left,
    Center,
    Right,
}

enum Block<'a> {
    Paragraph(Vec<&'a str>),
    Heading(usize, &'a str),
    Code { lang: &'a str, lines: Vec<&'a str> },
    Rule,
    Quote(Vec<Block<'a>>),
    List { start: Option<u64>, tight: bool, items: Vec<Vec<Block<'a>>> },
    Table { align: Vec<Align>, head: Vec<&'a str>, rows: Vec<Vec<&'a str>> },
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// The columns of a line's indentation (a tab to the next multiple of four) and the rest.
fn indent(line: &str) -> (usize, &str) {
    let mut columns = 0;
    for (i, b) in line.bytes().enumerate() {
        match b {
            b' ' => columns += 1,
            b'\t' => columns += 4 - columns % 4,
            _ => return (columns, &line[i..]),
        }
    }
    (columns, "")
}

/// The line without up to `columns` columns of indentation.
fn dedent(line: &str, columns: usize) -> &str {
    let mut seen = 0;
    for (i, b) in line.bytes().enumerate() {
        if seen >= columns {
            return &line[i..];
        }
        match b {
            b' ' => seen += 1,
            b'\t' => seen += 4 - seen % 4,
            _ => return &line[i..],
        }
    }
    ""
}

/// An opening code fence: its character, its length and the info string.
fn fence(rest: &str) -> Option<(u8, usize, &str)> {
    let c = *rest.as_bytes().first()?;
    if c != b'`' && c != b'~' {
        return None;
    }
    let n = rest.bytes().take_while(|&b| b == c).count();
    let info = rest[n..].trim();
    (n >= 3 && !(c == b'`' && info.contains('`'))).then_some((c, n, info))
}

fn heading(rest: &str) -> Option<(usize, &str)> {
    let level = rest.bytes().take_while(|&b| b == b'#').count();
    let text = &rest[level..];
    if !(1..=6).contains(&level) || !(text.is_empty() || text.starts_with([' ', '\t'])) {
        return None;
    }
    // A closing run of #s goes when a space precedes it.
    let text = text.trim();
    let without = text.trim_end_matches('#');
    Some((level, if without.is_empty() || without.ends_with([' ', '\t']) { without.trim_end() } else { text }))
}

fn is_rule(rest: &str) -> bool {
    let mut marks = rest.bytes().filter(|b| !matches!(b, b' ' | b'\t'));
    let Some(c) = marks.next() else { return false };
    matches!(c, b'-' | b'*' | b'_') && marks.clone().all(|b| b == c) && marks.count() >= 2
}

/// A list item's marker: the number of an ordered one, the marker character (`-`, `*`, `+`, or
/// the `.`/`)` after the number), its length and the columns from its start to the item's text.
struct Marker {
    number: Option<u64>,
    kind: u8,
    len: usize,
    width: usize,
}

fn marker(rest: &str) -> Option<Marker> {
    let bytes = rest.as_bytes();
    let (number, kind, len) = match bytes.first()? {
        b'-' | b'*' | b'+' => (None, bytes[0], 1),
        b'0'..=b'9' => {
            let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
            let kind = *bytes.get(digits).filter(|b| matches!(b, b'.' | b')'))?;
            (Some(rest[..digits].parse().ok().filter(|_| digits <= 9)?), kind, digits + 1)
        }
        _ => return None,
    };
    let after = &rest[len..];
    let spaces = indent(after).0;
    if after.trim().is_empty() {
        return Some(Marker { number, kind, len, width: len + 1 });
    }
    (spaces > 0).then_some(Marker { number, kind, len, width: len + if spaces > 4 { 1 } else { spaces } })
}

/// The cells of a table row: split at `|` not escaped and not in code, outer pipes dropped.
fn cells(row: &str) -> Vec<&str> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let mut cells = Vec::new();
    let (mut start, mut i, mut code) = (0, 0, false);
    let bytes = row.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'`' => code = !code,
            b'|' if !code => {
                cells.push(row[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let last = row[start.min(row.len())..].trim();
    if !last.is_empty() || !row.ends_with('|') || row.ends_with("\\|") {
        cells.push(last);
    }
    cells
}

fn delimiter_row(line: &str) -> Option<Vec<Align>> {
    if !line.contains('-') || !line.bytes().all(|b| matches!(b, b'|' | b'-' | b':' | b' ' | b'\t')) {
        return None;
    }
    cells(line)
        .into_iter()
        .map(|cell| {
            let (left, right) = (cell.starts_with(':'), cell.ends_with(':'));
            let dashes = cell.trim_matches(':');
            (!dashes.is_empty() && dashes.bytes().all(|b| b == b'-')).then_some(match (left, right) {
                (true, true) => Align::Center,
                (true, false) => Align::Left,
                (false, true) => Align::Right,
                (false, false) => Align::None,
            })
        })
        .collect()
}

/// A table starts at `lines[i]` when it has pipes and the next line aligns as many columns.
fn table_at(lines: &[&str], i: usize) -> Option<Vec<Align>> {
    let head = lines[i];
    let align = delimiter_row(lines.get(i + 1)?)?;
    (head.contains('|') && cells(head).len() == align.len()).then_some(align)
}

/// Whether a line starts a block that ends a paragraph before it (a list only with a bullet or a
/// `1.`, so that "in 1990. We" wrapped onto a line does not start a list).
fn interrupts(lines: &[&str], i: usize) -> bool {
    let (columns, rest) = indent(lines[i]);
    columns < 4
        && (fence(rest).is_some()
            || heading(rest).is_some()
            || is_rule(rest)
            || rest.starts_with('>')
            || marker(rest).is_some_and(|m| !rest[m.len..].trim().is_empty() && m.number.is_none_or(|n| n == 1))
            || table_at(lines, i).is_some())
}

fn parse_blocks<'a>(lines: &[&'a str], depth: usize) -> Vec<Block<'a>> {
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_blank(line) {
            i += 1;
            continue;
        }
        let (columns, rest) = indent(line);
        if columns < 4 {
            if let Some((c, n, info)) = fence(rest) {
                let mut body = Vec::new();
                i += 1;
                while i < lines.len() {
                    let (_, end) = indent(lines[i]);
                    if end.bytes().take_while(|&b| b == c).count() >= n
                        && end.trim_start_matches(c as char).trim().is_empty()
                    {
                        i += 1;
                        break;
                    }
                    body.push(dedent(lines[i], columns));
                    i += 1;
                }
                blocks.push(Block::Code { lang: info.split_whitespace().next().unwrap_or(""), lines: body });
                continue;
            }
            if let Some((level, text)) = heading(rest) {
                blocks.push(Block::Heading(level, text));
                i += 1;
                continue;
            }
            if is_rule(rest) {
                blocks.push(Block::Rule);
                i += 1;
                continue;
            }
            if depth < MAX_DEPTH && rest.starts_with('>') {
                let mut inner = Vec::new();
                while i < lines.len() && !is_blank(lines[i]) {
                    let (columns, rest) = indent(lines[i]);
                    match rest.strip_prefix('>') {
                        Some(quoted) if columns < 4 => inner.push(quoted.strip_prefix(' ').unwrap_or(quoted)),
                        // A line of the quote's paragraph continued without its `>`.
                        _ if !interrupts(lines, i) => inner.push(lines[i]),
                        _ => break,
                    }
                    i += 1;
                }
                blocks.push(Block::Quote(parse_blocks(&inner, depth + 1)));
                continue;
            }
            if depth < MAX_DEPTH {
                if let Some(first) = marker(rest) {
                    i = list(lines, i, first, depth, &mut blocks);
                    continue;
                }
            }
            if let Some(align) = table_at(lines, i) {
                let head = cells(rest);
                let mut rows = Vec::new();
                i += 2;
                while i < lines.len() && !is_blank(lines[i]) && !interrupts(lines, i) {
                    let mut row = cells(lines[i]);
                    row.resize(align.len(), "");
                    rows.push(row);
                    i += 1;
                }
                blocks.push(Block::Table { align, head, rows });
                continue;
            }
        }
        let mut paragraph = vec![line.trim_start()];
        i += 1;
        while i < lines.len() && !is_blank(lines[i]) && !interrupts(lines, i) {
            paragraph.push(lines[i].trim_start());
            i += 1;
        }
        blocks.push(Block::Paragraph(paragraph));
    }
    blocks
}

/// Reads the list starting at `lines[i]` into `blocks` and returns the line after it.
fn list<'a>(lines: &[&'a str], mut i: usize, first: Marker, depth: usize, blocks: &mut Vec<Block<'a>>) -> usize {
    let mut items = Vec::new();
    let mut tight = true;
    let sibling = |line: &str| {
        let (columns, rest) = indent(line);
        columns < 4 && marker(rest).is_some_and(|m| m.kind == first.kind)
    };
    while i < lines.len() && sibling(lines[i]) {
        let (columns, rest) = indent(lines[i]);
        let Some(m) = marker(rest) else { break };
        let content = columns + m.width;
        let mut body = vec![dedent(&rest[m.len..], m.width - m.len)];
        let mut blank = false;
        i += 1;
        while i < lines.len() {
            let line = lines[i];
            let (columns, rest) = indent(line);
            if is_blank(line) {
                blank = true;
                body.push("");
            } else if columns >= content {
                let inner = dedent(line, content);
                // A blank line between two blocks of the item (not inside a list nested in it)
                // makes the list loose.
                if blank && !inner.starts_with([' ', '\t']) && marker(inner).is_none() {
                    tight = false;
                }
                body.push(inner);
                blank = false;
            } else if !blank && marker(rest).is_none() && !interrupts(lines, i) {
                // A lazy line: the item's paragraph goes on without indentation.
                body.push(line.trim_start());
            } else {
                break;
            }
            i += 1;
        }
        while body.last() == Some(&"") {
            body.pop();
        }
        items.push(parse_blocks(&body, depth + 1));
        // Items apart by a blank line make the list loose.
        if blank && i < lines.len() && sibling(lines[i]) {
            tight = false;
        }
    }
    blocks.push(Block::List { start: first.number, tight, items });
    i
}

/// Where the rendering goes: HTML, or (for previews) the text alone.
struct Out {
    s: String,
    plain: bool,
}

impl Out {
    fn tag(&mut self, tag: &str) {
        if !self.plain {
            self.s.push_str(tag);
        }
    }

    /// An attribute's value, escaped (previews have no attributes).
    fn attr(&mut self, value: &str) {
        if !self.plain {
            self.text(value);
        }
    }

    /// A fresh output of the same kind, for a piece made ahead of its place.
    fn apart(&self) -> Out {
        Out { s: String::new(), plain: self.plain }
    }

    fn text(&mut self, text: &str) {
        if self.plain {
            self.s.push_str(text);
            return;
        }
        for c in text.chars() {
            match c {
                '&' => self.s.push_str("&amp;"),
                '<' => self.s.push_str("&lt;"),
                '>' => self.s.push_str("&gt;"),
                '"' => self.s.push_str("&quot;"),
                '\'' => self.s.push_str("&#39;"),
                c => self.s.push(c),
            }
        }
    }

    fn blocks(&mut self, blocks: &[Block], paragraphs: bool) {
        for (n, block) in blocks.iter().enumerate() {
            if n > 0 && !paragraphs {
                self.tag("\n");
            }
            self.block(block, paragraphs);
            if self.plain {
                self.s.push(' ');
            }
        }
    }

    fn block(&mut self, block: &Block, paragraphs: bool) {
        match block {
            Block::Paragraph(lines) => {
                self.tag(if paragraphs { "<p>" } else { "" });
                inline(self, lines.join("\n").trim_end());
                self.tag(if paragraphs { "</p>\n" } else { "" });
            }
            Block::Heading(level, text) => {
                self.tag(&format!("<h{level}>"));
                inline(self, text);
                self.tag(&format!("</h{level}>\n"));
            }
            Block::Code { lang, lines } => {
                self.tag("<pre><code");
                if !lang.is_empty() {
                    self.tag(" class=\"language-");
                    self.attr(lang);
                    self.tag("\"");
                }
                self.tag(">");
                for line in lines {
                    self.text(line);
                    self.text("\n");
                }
                self.tag("</code></pre>\n");
            }
            Block::Rule => self.tag("<hr />\n"),
            Block::Quote(inner) => {
                self.tag("<blockquote>\n");
                self.blocks(inner, true);
                self.tag("</blockquote>\n");
            }
            Block::List { start, tight, items } => {
                let list = if start.is_some() { "ol" } else { "ul" };
                match start {
                    Some(n) if *n != 1 => self.tag(&format!("<ol start=\"{n}\">\n")),
                    _ => self.tag(&format!("<{list}>\n")),
                }
                for item in items {
                    self.tag("<li>");
                    self.item(item, !tight);
                    self.tag("</li>\n");
                }
                self.tag(&format!("</{list}>\n"));
            }
            Block::Table { align, head, rows } => {
                self.tag("<table><thead><tr>");
                self.row("th", align, head);
                self.tag("</tr></thead><tbody>\n");
                for row in rows {
                    self.tag("<tr>");
                    self.row("td", align, row);
                    self.tag("</tr>\n");
                }
                self.tag("</tbody></table>\n");
            }
        }
    }

    /// A list item, its task box first when its text starts with `[ ]` or `[x]`.
    fn item(&mut self, blocks: &[Block], paragraphs: bool) {
        if let Some(Block::Paragraph(lines)) = blocks.first() {
            let task = lines[0].get(..4).filter(|s| matches!(*s, "[ ] " | "[x] " | "[X] ")).map(|s| s != "[ ] ");
            if let Some(done) = task {
                self.tag(if done {
                    "<input disabled=\"\" type=\"checkbox\" checked=\"\"/>"
                } else {
                    "<input disabled=\"\" type=\"checkbox\"/>"
                });
                let mut rest = lines.clone();
                rest[0] = &rest[0][4..];
                let first = [Block::Paragraph(rest)];
                self.blocks(&first, paragraphs);
                if blocks.len() > 1 {
                    self.tag("\n");
                    self.blocks(&blocks[1..], paragraphs);
                }
                return;
            }
        }
        self.blocks(blocks, paragraphs);
    }

    fn row(&mut self, cell: &str, align: &[Align], cells: &[&str]) {
        for (text, align) in cells.iter().zip(align) {
            let style = match align {
                Align::None => "",
                Align::Left => " style=\"text-align: left\"",
                Align::Center => " style=\"text-align: center\"",
                Align::Right => " style=\"text-align: right\"",
            };
            self.tag(&format!("<{cell}{style}>"));
            inline(self, text);
            self.tag(&format!("</{cell}>"));
            if self.plain {
                self.s.push(' ');
            }
        }
    }
}

/// A piece of a line of inline text: plain text, output already made (code, links, breaks), or a
/// run of `*`, `_` or `~` that may open or close emphasis.
enum Piece<'a> {
    Text(&'a str),
    Char(char),
    Made(String),
    Run(Run),
}

struct Run {
    c: u8,
    len: usize,
    left: usize,
    can_open: bool,
    can_close: bool,
    opens: Vec<&'static str>,
    closes: Vec<&'static str>,
}

fn is_punctuation(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace() && !c.is_ascii()))
}

fn is_space(c: Option<char>) -> bool {
    c.is_none_or(char::is_whitespace)
}

/// The named character references chat text uses; others stay as written.
fn reference(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return Some(char::from_u32(code).filter(|&c| c != '\0').unwrap_or('\u{FFFD}'));
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{A0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "euro" => '€',
        _ => return None,
    })
}

fn allowed(url: &str) -> bool {
    let url = url.trim().to_ascii_lowercase();
    url.starts_with("http://") || url.starts_with("https://") || url.starts_with("mailto:")
}

/// A link's destination after `](`: the URL and the index after the closing `)`.
fn destination(text: &str, open: usize) -> Option<(&str, usize)> {
    let bytes = text.as_bytes();
    let mut i = open;
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\n') {
        i += 1;
    }
    let (url, mut i) = if bytes.get(i) == Some(&b'<') {
        let end = i + text[i..].find(['>', '\n'])?;
        (bytes[end] == b'>').then_some(())?;
        (&text[i + 1..end], end + 1)
    } else {
        let start = i;
        let mut depth = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 1,
                b'(' => depth += 1,
                b')' if depth == 0 => break,
                b')' => depth -= 1,
                b' ' | b'\n' | b'\t' => break,
                _ => {}
            }
            i += 1;
        }
        (&text[start..i.min(bytes.len())], i)
    };
    // An optional title, which the chat does not show.
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\n') {
        i += 1;
    }
    if let Some(&quote @ (b'"' | b'\'')) = bytes.get(i) {
        i += 1 + text[i + 1..].find(quote as char)? + 1;
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\n') {
            i += 1;
        }
    }
    (bytes.get(i) == Some(&b')')).then_some((url, i + 1))
}

/// The `[`…`]` pairs of a text by the index of their `[` (escaped brackets and those in code
/// spans left out): one pass, so a text full of brackets stays linear.
fn bracket_pairs(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let (mut open, mut pairs) = (Vec::new(), Vec::new());
    let mut spans = CodeSpans::default();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'`' => match spans.at(text, i) {
                (_, Some(end)) => i = end - 1,
                (n, None) => i += n - 1,
            },
            // Each `[` takes its place in order as it opens (so the pairs come out sorted by
            // their `[` without a sort), its `]` filled in when it closes.
            b'[' => {
                open.push(pairs.len());
                pairs.push((i, usize::MAX));
            }
            b']' => {
                if let Some(slot) = open.pop() {
                    pairs[slot].1 = i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    pairs.retain(|&(_, close)| close != usize::MAX);
    pairs
}

/// Finds where code spans end, remembering the run lengths no later backticks close, so a text
/// full of unclosed runs stays linear.
#[derive(Default)]
struct CodeSpans {
    no_closer: [bool; 16],
}

impl CodeSpans {
    /// At the run of backticks at `i`: its length, and the index after the run of as many that
    /// closes its span (none when nothing does).
    fn at(&mut self, text: &str, i: usize) -> (usize, Option<usize>) {
        let bytes = text.as_bytes();
        let n = bytes[i..].iter().take_while(|&&b| b == b'`').count();
        if self.no_closer.get(n) == Some(&true) {
            return (n, None);
        }
        let mut j = i + n;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let run = bytes[j..].iter().take_while(|&&b| b == b'`').count();
                if run == n {
                    return (n, Some(j + n));
                }
                j += run;
            } else {
                j += 1;
            }
        }
        if let Some(none) = self.no_closer.get_mut(n) {
            *none = true;
        }
        (n, None)
    }
}

fn render_link(out: &mut Out, label: &str, url: &str, depth: usize) {
    if !allowed(url) {
        inline_at(out, label, depth + 1);
        return;
    }
    out.tag("<a href=\"");
    out.attr(url.trim());
    out.tag("\" target=\"_blank\" rel=\"noopener noreferrer\">");
    inline_at(out, label, depth + 1);
    out.tag("</a>");
}

/// Renders a paragraph's text (its lines joined by `\n`).
fn inline(out: &mut Out, text: &str) {
    inline_at(out, text, 0)
}

/// Links inside link text deeper than this read as text (no unbounded recursion).
const MAX_LINK_DEPTH: usize = 4;

/// Renders inline text inside `depth` links.
fn inline_at(out: &mut Out, text: &str, depth: usize) {
    let brackets = if text.contains('[') { bracket_pairs(text) } else { Vec::new() };
    let mut pieces = Vec::new();
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    let mut i = 0;
    let mut spans = CodeSpans::default();
    macro_rules! flush {
        () => {
            if plain_from < i {
                pieces.push(Piece::Text(&text[plain_from..i]));
            }
        };
    }
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\\' if bytes.get(i + 1).is_some_and(u8::is_ascii_punctuation) => {
                flush!();
                pieces.push(Piece::Char(bytes[i + 1] as char));
                i += 2;
                plain_from = i;
            }
            b'\\' if bytes.get(i + 1) == Some(&b'\n') => {
                flush!();
                pieces.push(Piece::Made(if out.plain { " ".into() } else { "<br />\n".into() }));
                i += 2;
                plain_from = i;
            }
            b'\n' => {
                let line = &text[plain_from..i];
                let trimmed = line.trim_end_matches(' ');
                if !trimmed.is_empty() {
                    pieces.push(Piece::Text(trimmed));
                }
                let hard = line.len() - trimmed.len() >= 2 && !out.plain;
                pieces.push(Piece::Made(if hard { "<br />\n".into() } else { "\n".into() }));
                i += 1;
                plain_from = i;
            }
            b'`' => {
                let (n, end) = spans.at(text, i);
                match end {
                    Some(end) => {
                        flush!();
                        let code = text[i + n..end - n].replace('\n', " ");
                        let code = match code.strip_prefix(' ').and_then(|c| c.strip_suffix(' ')) {
                            Some(inner) if !code.trim().is_empty() => inner.to_string(),
                            _ => code,
                        };
                        let mut made = out.apart();
                        made.tag("<code>");
                        made.text(&code);
                        made.tag("</code>");
                        pieces.push(Piece::Made(made.s));
                        i = end;
                        plain_from = i;
                    }
                    None => i += n,
                }
            }
            b'[' | b'!' => {
                let open = if b == b'!' { i + 1 } else { i };
                let link = (depth < MAX_LINK_DEPTH && bytes.get(open) == Some(&b'['))
                    .then(|| brackets.binary_search_by_key(&open, |pair| pair.0).ok().map(|k| brackets[k].1))
                    .flatten()
                    .and_then(|close| (bytes.get(close + 1) == Some(&b'(')).then_some(close))
                    .and_then(|close| destination(text, close + 2).map(|(url, end)| (close, url, end)));
                match link {
                    Some((close, url, end)) => {
                        flush!();
                        let mut made = out.apart();
                        render_link(&mut made, &text[open + 1..close], url, depth);
                        pieces.push(Piece::Made(made.s));
                        i = end;
                        plain_from = i;
                    }
                    None => i += 1,
                }
            }
            b'<' => {
                let end = text[i + 1..].find(['>', '<', ' ', '\n']).map(|e| i + 1 + e);
                let inner = end.filter(|&e| bytes[e] == b'>').map(|e| &text[i + 1..e]);
                let scheme = inner.and_then(|s| s.split_once(':')).is_some_and(|(scheme, _)| {
                    (2..=32).contains(&scheme.len())
                        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
                });
                let email = inner.is_some_and(|s| {
                    s.split_once('@')
                        .is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !host.contains('@'))
                });
                match (inner, end) {
                    (Some(inner), Some(end)) if scheme || email => {
                        flush!();
                        let url = if email && !scheme { format!("mailto:{inner}") } else { inner.to_string() };
                        let mut made = out.apart();
                        if allowed(&url) {
                            render_link(&mut made, inner, &url, depth);
                        } else {
                            made.text(&text[i..=end]);
                        }
                        pieces.push(Piece::Made(made.s));
                        i = end + 1;
                        plain_from = i;
                    }
                    _ => i += 1,
                }
            }
            b'&' => {
                let name_end = bytes[i + 1..].iter().take(32).position(|&b| b == b';').map(|e| i + 1 + e);
                match name_end.and_then(|e| reference(&text[i + 1..e]).map(|c| (c, e))) {
                    Some((c, end)) => {
                        flush!();
                        pieces.push(Piece::Char(c));
                        i = end + 1;
                        plain_from = i;
                    }
                    None => i += 1,
                }
            }
            b'*' | b'_' | b'~' => {
                flush!();
                let len = bytes[i..].iter().take_while(|&&x| x == b).count();
                let before = text[..i].chars().next_back();
                let after = text[i + len..].chars().next();
                let left = !is_space(after) && (!is_punctuation(after) || is_space(before) || is_punctuation(before));
                let right = !is_space(before) && (!is_punctuation(before) || is_space(after) || is_punctuation(after));
                let (can_open, can_close) = if b == b'_' {
                    (left && (!right || is_punctuation(before)), right && (!left || is_punctuation(after)))
                } else {
                    (left, right)
                };
                pieces.push(Piece::Run(Run {
                    c: b,
                    len,
                    left: len,
                    can_open,
                    can_close,
                    opens: Vec::new(),
                    closes: Vec::new(),
                }));
                i += len;
                plain_from = i;
            }
            _ => i += 1,
        }
    }
    flush!();
    emphasis(&mut pieces);
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.text(text),
            Piece::Char(c) => out.text(c.encode_utf8(&mut [0; 4])),
            Piece::Made(made) => out.s.push_str(&made),
            Piece::Run(run) => {
                for tag in &run.closes {
                    out.tag(tag);
                }
                for _ in 0..run.left {
                    out.s.push(run.c as char);
                }
                for tag in run.opens.iter().rev() {
                    out.tag(tag);
                }
            }
        }
    }
}

/// Pairs delimiter runs into emphasis by CommonMark's rules (the rule of three included).
fn emphasis(pieces: &mut [Piece]) {
    // Per run character, closer length mod 3 and whether the closer could open: the index below
    // which no opener was found, so a long line of unmatched runs stays linear.
    let mut bottom = [[[0usize; 2]; 3]; 3];
    for closer in 0..pieces.len() {
        while let Piece::Run(run) = &pieces[closer] {
            if !run.can_close || run.left == 0 {
                break;
            }
            let (c, len, closer_opens) = (run.c, run.len, run.can_open);
            let slot = (usize::from(c == b'_') + 2 * usize::from(c == b'~'), len % 3, usize::from(closer_opens));
            let floor = bottom[slot.0][slot.1][slot.2];
            let opener = (floor..closer).rev().find(|&k| match &pieces[k] {
                Piece::Run(o) => {
                    o.c == c
                        && o.can_open
                        && o.left > 0
                        && (c != b'~' || o.left == run.left)
                        && !((o.can_close || closer_opens)
                            && (o.len + len) % 3 == 0
                            && !(o.len % 3 == 0 && len % 3 == 0))
                }
                _ => false,
            });
            let Some(opener) = opener else {
                bottom[slot.0][slot.1][slot.2] = closer;
                break;
            };
            let n = if c == b'~' {
                run.left
            } else if run.left >= 2 && matches!(&pieces[opener], Piece::Run(o) if o.left >= 2) {
                2
            } else {
                1
            };
            let (open, close) = match (c, n) {
                (b'~', _) => ("<del>", "</del>"),
                (_, 2) => ("<strong>", "</strong>"),
                _ => ("<em>", "</em>"),
            };
            if let Piece::Run(o) = &mut pieces[opener] {
                o.left -= n;
                o.opens.push(open);
            }
            if let Piece::Run(r) = &mut pieces[closer] {
                r.left -= n;
                r.closes.push(close);
            }
            // Runs between the pair can no longer pair across it.
            for piece in &mut pieces[opener + 1..closer] {
                if let Piece::Run(between) = piece {
                    between.can_open = false;
                    between.can_close = false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{bracket_pairs, to_plain_text, to_safe_html};

    #[test]
    fn a_preview_keeps_the_words_and_drops_the_marks() {
        assert_eq!(
            to_plain_text("## Steps\n\n1. **Open** the `box`\n2. [Read](https://x.test) the _manual_\n\n<b>ok</b>"),
            "Steps Open the box Read the manual <b>ok</b>"
        );
        assert_eq!(to_plain_text("plain words\nacross lines"), "plain words across lines");
        assert_eq!(
            to_plain_text("**Yes**, by _invoice_: see [billing](https://x.test)."),
            "Yes, by invoice: see billing."
        );
        assert_eq!(to_plain_text("| a | b |\n|---|---|\n| 1 | 2 |"), "a b 1 2");
    }

    #[test]
    fn bracket_pairs_come_in_the_order_they_open_and_leave_out_the_unclosed() {
        // Nested, escaped, in code, unclosed, and a stray `]`.
        let text = r"[a [b] c] \[x] `[y]` [d ] [e";
        assert_eq!(bracket_pairs(text), vec![(0, 8), (3, 5), (21, 24)]);
    }

    #[test]
    fn lists_code_and_emphasis_render() {
        let html = to_safe_html("**Steps**\n\n1. one\n2. two\n\n```rust\nfn main() {}\n```");
        assert!(html.contains("<strong>Steps</strong>"), "{html}");
        assert!(html.contains("<ol>") && html.contains("<li>two</li>"), "{html}");
        assert!(html.contains("<pre><code class=\"language-rust\">fn main() {}"), "{html}");
    }

    #[test]
    fn paragraphs_headings_breaks_and_rules_render_as_commonmark_does() {
        assert_eq!(to_safe_html("Hello\nthere.\n\nNext"), "<p>Hello\nthere.</p>\n<p>Next</p>\n");
        assert_eq!(to_safe_html("# Title #\n### Sub"), "<h1>Title</h1>\n<h3>Sub</h3>\n");
        assert_eq!(to_safe_html("#hashtag"), "<p>#hashtag</p>\n");
        assert_eq!(to_safe_html("line  \nnext\\\nlast"), "<p>line<br />\nnext<br />\nlast</p>\n");
        assert_eq!(to_safe_html("a\n\n---\n\n* * *"), "<p>a</p>\n<hr />\n<hr />\n");
        assert_eq!(
            to_safe_html("> quoted\n> **twice**\n\nafter"),
            "<blockquote>\n<p>quoted\n<strong>twice</strong></p>\n</blockquote>\n<p>after</p>\n"
        );
        assert_eq!(to_safe_html(""), "");
    }

    #[test]
    fn emphasis_follows_the_delimiter_rules() {
        for (source, html) in [
            ("*a* _b_ **c** __d__ ~~e~~", "<em>a</em> <em>b</em> <strong>c</strong> <strong>d</strong> <del>e</del>"),
            ("***both***", "<em><strong>both</strong></em>"),
            ("**bold *and em* inside**", "<strong>bold <em>and em</em> inside</strong>"),
            ("snake_case_name and 2*3*4", "snake_case_name and 2<em>3</em>4"),
            ("**not closed", "**not closed"),
            ("a * b * c", "a * b * c"),
            ("\\*literal\\*", "*literal*"),
            ("*a **b** c*", "<em>a <strong>b</strong> c</em>"),
            ("**a*", "*<em>a</em>"),
        ] {
            assert_eq!(to_safe_html(source), format!("<p>{html}</p>\n"), "{source}");
        }
    }

    #[test]
    fn code_spans_and_blocks_keep_their_text() {
        assert_eq!(to_safe_html("use `a*b*c` or `` x`y ``"), "<p>use <code>a*b*c</code> or <code>x`y</code></p>\n");
        assert_eq!(to_safe_html("an `unclosed tick"), "<p>an `unclosed tick</p>\n");
        assert_eq!(
            to_safe_html("```\n<b>x</b>\n\n  *y*\n```"),
            "<pre><code>&lt;b&gt;x&lt;/b&gt;\n\n  *y*\n</code></pre>\n"
        );
        // While a reply streams, its fence is not closed yet.
        assert_eq!(
            to_safe_html("Run:\n```sh\nls -l"),
            "<p>Run:</p>\n<pre><code class=\"language-sh\">ls -l\n</code></pre>\n"
        );
    }

    #[test]
    fn lists_nest_number_check_and_stay_tight_or_loose() {
        assert_eq!(
            to_safe_html("Options:\n- one\n  - one a\n  - one b\n- two\n\n3. three\n4. four"),
            "<p>Options:</p>\n<ul>\n<li>one\n<ul>\n<li>one a</li>\n<li>one b</li>\n</ul>\n</li>\n<li>two</li>\n</ul>\n<ol start=\"3\">\n<li>three</li>\n<li>four</li>\n</ol>\n"
        );
        assert_eq!(to_safe_html("- a\n\n- b"), "<ul>\n<li><p>a</p>\n</li>\n<li><p>b</p>\n</li>\n</ul>\n");
        assert_eq!(
            to_safe_html("- [ ] open\n- [x] done"),
            "<ul>\n<li><input disabled=\"\" type=\"checkbox\"/>open</li>\n<li><input disabled=\"\" type=\"checkbox\" checked=\"\"/>done</li>\n</ul>\n"
        );
        assert_eq!(
            to_safe_html("1. first\nlazy line\n2. second"),
            "<ol>\n<li>first\nlazy line</li>\n<li>second</li>\n</ol>\n"
        );
        assert_eq!(to_safe_html("It was 1990. Then\n1990. again"), "<p>It was 1990. Then\n1990. again</p>\n");
    }

    #[test]
    fn tables_render_with_their_alignment() {
        assert_eq!(
            to_safe_html("| Plan | Price |\n|:-----|------:|\n| Basic | $5 |\n| **Pro** | `$9` | extra |\nafter"),
            "<table><thead><tr><th style=\"text-align: left\">Plan</th><th style=\"text-align: right\">Price</th></tr></thead><tbody>\n\
             <tr><td style=\"text-align: left\">Basic</td><td style=\"text-align: right\">$5</td></tr>\n\
             <tr><td style=\"text-align: left\"><strong>Pro</strong></td><td style=\"text-align: right\"><code>$9</code></td></tr>\n\
             <tr><td style=\"text-align: left\">after</td><td style=\"text-align: right\"></td></tr>\n</tbody></table>\n"
        );
        assert_eq!(
            to_safe_html("a | b\n--|--"),
            "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody>\n</tbody></table>\n"
        );
        assert_eq!(to_safe_html("a | b\n---"), "<p>a | b</p>\n<hr />\n");
    }

    #[test]
    fn references_decode_and_unknown_ones_stay() {
        assert_eq!(
            to_safe_html("AT&amp;T &copy; &#65;&#x42; &bogus; & x"),
            "<p>AT&amp;T © AB &amp;bogus; &amp; x</p>\n"
        );
    }

    #[test]
    fn raw_html_is_shown_as_text_never_run() {
        for payload in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "hello <b onmouseover=alert(1)>x</b>",
            "<iframe src=\"javascript:alert(1)\"></iframe>",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "<javascript:alert(1)>",
            "`<script>` and ```\n<script>\n```",
        ] {
            let html = to_safe_html(payload);
            assert!(
                !html.contains("<script")
                    && !html.contains("<img")
                    && !html.contains("<b ")
                    && !html.contains("<iframe")
                    && !html.contains("href=\"javascript"),
                "{payload} → {html}"
            );
        }
    }

    #[test]
    fn only_http_https_and_mailto_links_survive_with_safe_rel() {
        let html =
            to_safe_html("[site](https://example.com/a?b=1&c=\"2\") [mail](mailto:a@b.c) <https://x.io> <a@b.c>");
        assert!(html.contains("<a href=\"https://example.com/a?b=1&amp;c=&quot;2&quot;\" target=\"_blank\" rel=\"noopener noreferrer\">site</a>"), "{html}");
        assert!(html.contains("href=\"mailto:a@b.c\""), "{html}");
        assert!(html.contains("href=\"https://x.io\""), "{html}");
        assert!(
            html.contains("href=\"mailto:a@b.c\" target=\"_blank\" rel=\"noopener noreferrer\">a@b.c</a>"),
            "{html}"
        );
        for bad in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](data:text/html,hi)",
            "[x](vbscript:x)",
            "![i](javascript:alert(1))",
            "[x]( javascript:alert(1) )",
        ] {
            let html = to_safe_html(bad);
            assert!(!html.contains("<a") && !html.to_lowercase().contains("javascript:alert"), "{bad} → {html}");
            assert!(html.contains('x') || html.contains('i'), "the text stays: {html}");
        }
    }

    #[test]
    fn links_take_titles_parentheses_and_inline_marks() {
        assert_eq!(
            to_safe_html("[the **docs**](https://x.io/a_(b) \"Title\") and [not a link] [x]"),
            "<p><a href=\"https://x.io/a_(b)\" target=\"_blank\" rel=\"noopener noreferrer\">the <strong>docs</strong></a> and [not a link] [x]</p>\n"
        );
    }

    #[test]
    fn images_become_plain_links() {
        let html = to_safe_html("![a cat](https://example.com/cat.png)");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("<a href=\"https://example.com/cat.png\""), "{html}");
    }

    #[test]
    fn any_text_renders_without_panicking_and_in_linear_time() {
        let samples = [
            "*".repeat(20_000),
            "_a".repeat(10_000),
            "[".repeat(5_000) + &"]".repeat(5_000),
            "`a".repeat(10_000),
            ">".repeat(10_000) + " deep",
            (0..2_000).map(|i| format!("{}- x\n", " ".repeat(i % 40))).collect(),
            "é*ü_ß~`ä[ö](ç)<ñ>&".repeat(500),
            "| a |\n|---|\n".to_string() + &"| é | \\| |\n".repeat(100),
            "1. \n\n- \n>\n```".to_string(),
            "\t- a\n\t\t- b\n  \t* c".to_string(),
            "[".repeat(3_000) + "x" + &"](https://x.io)".repeat(3_000),
            "![".repeat(3_000) + "x" + &"](https://x.io)".repeat(3_000),
            "[".repeat(60_000) + &"]".repeat(60_000),
            "&".repeat(100_000),
            "`".repeat(3_000) + &"a`".repeat(30_000),
        ];
        for sample in samples {
            let html = to_safe_html(&sample);
            let text = to_plain_text(&sample);
            assert!(!html.contains("<script") && text.len() <= sample.len() * 2, "{}", &sample[..20.min(sample.len())]);
        }
    }
}
