//! Markdown's inline text: code spans, links, autolinks, character references and emphasis by
//! CommonMark's delimiter rules, written into an [`Out`].

use super::Out;

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
pub(super) fn bracket_pairs(text: &str) -> Vec<(usize, usize)> {
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
pub(super) fn inline(out: &mut Out, text: &str) {
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
