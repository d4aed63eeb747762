//! Markdown's blocks: the lines of a text read into paragraphs, headings, code, rules, quotes,
//! lists and tables.

/// Quotes and lists inside each other deeper than this read as text (no unbounded recursion).
const MAX_DEPTH: usize = 12;

pub(super) fn lines(source: &str) -> Vec<&str> {
    source.lines().collect()
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Align {
    None,
    Left,
    Center,
    Right,
}

pub(super) enum Block<'a> {
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

pub(super) fn parse_blocks<'a>(lines: &[&'a str], depth: usize) -> Vec<Block<'a>> {
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
