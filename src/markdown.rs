//! Markdown for assistant and staff messages, rendered to HTML that is safe to insert: raw HTML in
//! the source is shown as text, links keep only http, https and mailto targets and open with
//! `rel="noopener noreferrer"`, images become links.

use pulldown_cmark::{html, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

fn allowed(url: &str) -> bool {
    let url = url.trim().to_ascii_lowercase();
    url.starts_with("http://") || url.starts_with("https://") || url.starts_with("mailto:")
}

fn escape_attr(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders Markdown to sanitised HTML.
pub fn to_safe_html(source: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    // Links whose target is refused render as their text; remember which ends to drop.
    let mut dropped_links = Vec::<bool>::new();
    let events = Parser::new_ext(source, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link { link_type, dest_url, .. }) => link_start(link_type, &dest_url, &mut dropped_links),
        Event::End(TagEnd::Link) => {
            if dropped_links.pop().unwrap_or(true) {
                Event::Text(CowStr::Borrowed(""))
            } else {
                Event::InlineHtml(CowStr::Borrowed("</a>"))
            }
        }
        Event::Start(Tag::Image { dest_url, .. }) => link_start(LinkType::Inline, &dest_url, &mut dropped_links),
        Event::End(TagEnd::Image) => {
            if dropped_links.pop().unwrap_or(true) {
                Event::Text(CowStr::Borrowed(""))
            } else {
                Event::InlineHtml(CowStr::Borrowed("</a>"))
            }
        }
        other => other,
    });
    let mut out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// The text of Markdown without its marks, on one line (list previews): `**Steps** 1. one`
/// reads `Steps one`. Raw HTML stays as its text, as in [`to_safe_html`].
pub fn to_plain_text(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for event in Parser::new_ext(source, Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES) {
        match event {
            Event::Text(text) | Event::Code(text) | Event::Html(text) | Event::InlineHtml(text) => out.push_str(&text),
            // Inline marks end inside a sentence ("**Yes**, …"); blocks end with a space.
            Event::End(TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link | TagEnd::Image) => {}
            Event::SoftBreak | Event::HardBreak | Event::End(_) | Event::Rule => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn link_start<'a>(link_type: LinkType, dest: &str, dropped: &mut Vec<bool>) -> Event<'a> {
    let dest = match link_type {
        LinkType::Email => format!("mailto:{dest}"),
        _ => dest.to_string(),
    };
    if allowed(&dest) {
        dropped.push(false);
        Event::InlineHtml(CowStr::from(format!(
            "<a href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">",
            escape_attr(dest.trim())
        )))
    } else {
        dropped.push(true);
        Event::Text(CowStr::Borrowed(""))
    }
}

#[cfg(test)]
mod tests {
    use super::{to_plain_text, to_safe_html};

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
    }

    #[test]
    fn lists_code_and_emphasis_render() {
        let html = to_safe_html("**Steps**\n\n1. one\n2. two\n\n```rust\nfn main() {}\n```");
        assert!(html.contains("<strong>Steps</strong>"), "{html}");
        assert!(html.contains("<ol>") && html.contains("<li>two</li>"), "{html}");
        assert!(html.contains("<pre><code class=\"language-rust\">fn main() {}"), "{html}");
    }

    #[test]
    fn raw_html_is_shown_as_text_never_run() {
        for payload in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "hello <b onmouseover=alert(1)>x</b>",
            "<iframe src=\"javascript:alert(1)\"></iframe>",
        ] {
            let html = to_safe_html(payload);
            assert!(
                !html.contains("<script")
                    && !html.contains("<img")
                    && !html.contains("<b ")
                    && !html.contains("<iframe"),
                "{payload} → {html}"
            );
        }
    }

    #[test]
    fn only_http_https_and_mailto_links_survive_with_safe_rel() {
        let html = to_safe_html("[site](https://example.com/a?b=1&c=\"2\") [mail](mailto:a@b.c) <https://x.io>");
        assert!(html.contains("<a href=\"https://example.com/a?b=1&amp;c=&quot;2&quot;\" target=\"_blank\" rel=\"noopener noreferrer\">site</a>"), "{html}");
        assert!(html.contains("href=\"mailto:a@b.c\""), "{html}");
        assert!(html.contains("href=\"https://x.io\""), "{html}");
        for bad in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](data:text/html,hi)",
            "[x](vbscript:x)",
            "![i](javascript:alert(1))",
        ] {
            let html = to_safe_html(bad);
            assert!(!html.contains("<a") && !html.to_lowercase().contains("javascript:alert"), "{bad} → {html}");
            assert!(html.contains('x') || html.contains('i'), "the text stays: {html}");
        }
    }

    #[test]
    fn images_become_plain_links() {
        let html = to_safe_html("![a cat](https://example.com/cat.png)");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("<a href=\"https://example.com/cat.png\""), "{html}");
    }
}
