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

mod blocks;
mod inline;

use blocks::{lines, parse_blocks, Align, Block};
use inline::inline;

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

#[cfg(test)]
mod tests {
    use super::{inline::bracket_pairs, to_plain_text, to_safe_html};

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
