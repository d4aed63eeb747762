//! Knowledge from files: Markdown, plain text and HTML pages, several at once. Each file is an
//! article whose id is its name (`returns-policy.md` → `returns-policy`), so importing a file again
//! updates its article; its title is its first heading, or its name. HTML is read as its text
//! (html2text: headings, paragraphs and lists kept, scripts and styles dropped). A file that
//! cannot be an article is listed with the reason; the others go in all the same. Pages come by
//! URL too: a page, or the pages a sitemap lists (see `web`), each an article named by its
//! address, so importing it again updates it.

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{check_external_id, web, Knowledge, KnowledgeInput, Written};
use crate::{
    model::{KnowledgeKind, Visibility},
    server::identity::Editor,
};

/// One uploaded file.
pub struct ImportFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What an import did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: Vec<RejectedFile>,
}

/// A file or a page that was not imported, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedFile {
    /// The file's name, or the page's address.
    pub file: String,
    pub reason: String,
}

/// An import by URL: a page, or a `sitemap.xml` (its pages, up to `FRONTDESK_IMPORT_MAX_PAGES`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UrlImport {
    /// An http or https address.
    #[schema(max_length = 2048, pattern = r"^https?://\S+$")]
    pub url: String,
    /// `public` (default), `assistant` or `staff`.
    #[serde(default)]
    pub visibility: Visibility,
}

/// How many pages of a sitemap are fetched at once.
const FETCHES_AT_ONCE: usize = 4;

impl Knowledge {
    /// Imports each file as an article of `visibility`; a file that cannot be one is listed.
    pub async fn import_files(&self, editor: Editor, files: Vec<ImportFile>, visibility: Visibility) -> ImportReport {
        let mut report = ImportReport::default();
        for file in files {
            self.write_imported(editor, &file.name, article_from(&file, visibility), &mut report).await;
        }
        report
    }
}

impl Knowledge {
    /// Imports the page at `url`, or every page of the sitemap there (nested sitemaps once
    /// deep), up to the page limit; a page that cannot be fetched (refused, unreachable) or be an
    /// article is listed with the reason. Only a `url` that is no http(s) address is an error.
    pub async fn import_url(&self, editor: Editor, import: &UrlImport) -> Result<ImportReport, String> {
        let url = import.url.as_str();
        if !super::is_web_address(url) {
            return Err("url must be an http or https address".into());
        }
        let mut report = ImportReport::default();
        let first = match self.web.get(url).await {
            Ok(first) => first,
            // An address that cannot be fetched (refused, unreachable, not a page) is listed.
            Err(reason) => {
                report.rejected.push(RejectedFile { file: url.to_string(), reason });
                return Ok(report);
            }
        };
        if !first.is_sitemap() {
            let page = article_from_page(&first, import.visibility);
            self.write_imported(editor, first.url.as_str(), page, &mut report).await;
            return Ok(report);
        }
        let (mut pages, sitemaps) = match web::sitemap_entries(&first.body) {
            Ok(entries) => entries,
            Err(reason) => {
                report.rejected.push(RejectedFile { file: first.url.to_string(), reason });
                return Ok(report);
            }
        };
        for sitemap in sitemaps {
            if pages.len() >= self.max_pages {
                break;
            }
            match self.web.get(&sitemap).await.and_then(|s| web::sitemap_entries(&s.body)) {
                Ok((more, _)) => pages.extend(more),
                Err(reason) => report.rejected.push(RejectedFile { file: sitemap, reason }),
            }
        }
        for skipped in pages.iter().skip(self.max_pages) {
            let reason = format!("over the limit of {} pages an import fetches", self.max_pages);
            report.rejected.push(RejectedFile { file: skipped.clone(), reason });
        }
        pages.truncate(self.max_pages);
        let web = self.web;
        let visibility = import.visibility;
        let mut fetched = futures::stream::iter(pages)
            .map(|page| async move {
                let got = web.get(&page).await;
                (page, got.and_then(|fetched| article_from_page(&fetched, visibility)))
            })
            .buffered(FETCHES_AT_ONCE);
        while let Some((page, article)) = fetched.next().await {
            self.write_imported(editor, &page, article, &mut report).await;
        }
        Ok(report)
    }

    /// Writes an imported file's or page's article (`source` names it), or lists why not.
    async fn write_imported(
        &self,
        editor: Editor,
        source: &str,
        article: Result<(String, KnowledgeInput), String>,
        report: &mut ImportReport,
    ) {
        let written = match article {
            Ok((id, input)) => self.put(editor, &id, &input).await.map_err(|e| {
                if e.status().is_server_error() {
                    tracing::error!(error = ?e, source, "importing a file or a page failed");
                }
                e.public_message()
            }),
            Err(reason) => Err(reason),
        };
        match written {
            Ok(Written::Created) => report.created += 1,
            Ok(Written::Updated) => report.updated += 1,
            Ok(Written::Unchanged) => report.unchanged += 1,
            Err(reason) => report.rejected.push(RejectedFile { file: source.to_string(), reason }),
        }
    }
}

/// The article a fetched page makes: named by its address (`shop.example/help/returns` →
/// `shop-example-help-returns`), titled by its title, its main text as Markdown, linked to it.
fn article_from_page(page: &web::Fetched, visibility: Visibility) -> Result<(String, KnowledgeInput), String> {
    if !(page.content_type.is_empty() || page.content_type.contains("html")) {
        return Err(format!("{} is {}, not a web page", page.url, page.content_type));
    }
    let html = String::from_utf8_lossy(&page.body);
    let (title, body) = web::main_text(&html, &page.url)?;
    let address = format!("{}{}", page.url.host_str().unwrap_or_default(), page.url.path());
    let id = slug(&address);
    check_external_id(&id).map_err(|_| format!("{} makes no id", page.url))?;
    let title = if title.is_empty() { title_from(&id) } else { title.chars().take(200).collect() };
    let input = KnowledgeInput {
        kind: KnowledgeKind::Article,
        title,
        body,
        url: Some(page.url.to_string()),
        tags: Vec::new(),
        visibility,
    };
    Ok((id, input))
}

/// The article a file makes: its id and its content, or why it makes none.
fn article_from(file: &ImportFile, visibility: Visibility) -> Result<(String, KnowledgeInput), String> {
    let name = file.name.rsplit(['/', '\\']).next().unwrap_or_default();
    let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
    let text = std::str::from_utf8(&file.bytes).map_err(|_| "the file is not UTF-8 text".to_string())?;
    let body = match extension.to_ascii_lowercase().as_str() {
        "md" | "markdown" | "txt" => text.to_string(),
        "html" | "htm" => {
            html2text::from_read(text.as_bytes(), 10_000).map_err(|_| "the HTML could not be read".to_string())?
        }
        _ => return Err("only .md, .markdown, .txt, .html and .htm files are imported".into()),
    };
    let id = slug(stem);
    check_external_id(&id).map_err(|_| "the file's name makes no id (use letters and digits)".to_string())?;
    let (title, body) = match first_heading(&body) {
        Some((title, rest)) => (title, rest),
        None => (title_from(stem), body),
    };
    let input = KnowledgeInput { kind: KnowledgeKind::Article, title, body, url: None, tags: Vec::new(), visibility };
    Ok((id, input))
}

/// A name as an id: lowercase letters and digits, other runs of characters as one `-`.
fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(128).collect()
}

/// A file name as a title: `returns_policy` → `Returns policy`.
fn title_from(stem: &str) -> String {
    let words = stem.replace(['-', '_'], " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Untitled".into(),
    }
}

/// The first line when it is a top-level heading (`# Returns`), and the text after it.
fn first_heading(body: &str) -> Option<(String, String)> {
    let trimmed = body.trim_start();
    let first = trimmed.lines().next()?;
    let title = first.strip_prefix("# ")?.trim().trim_end_matches('#').trim();
    if title.is_empty() {
        return None;
    }
    Some((title.to_string(), trimmed[first.len()..].trim_start().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> ImportFile {
        ImportFile { name: name.into(), bytes: text.as_bytes().to_vec() }
    }

    #[test]
    fn a_markdown_file_is_an_article_named_by_its_file_and_titled_by_its_heading() {
        let (id, input) =
            article_from(&file("Returns Policy.md", "# Returns\n\nWithin 30 days."), Visibility::Public).unwrap();
        assert_eq!(
            (id.as_str(), input.title.as_str(), input.body.as_str()),
            ("returns-policy", "Returns", "Within 30 days.")
        );
        let (id, input) = article_from(&file("docs/opening_hours.txt", "Open daily."), Visibility::Staff).unwrap();
        assert_eq!(
            (id.as_str(), input.title.as_str(), input.visibility),
            ("opening-hours", "Opening hours", Visibility::Staff)
        );
    }

    #[test]
    fn an_html_page_is_read_as_its_text_without_its_scripts() {
        let html = "<html><head><style>p{}</style><script>alert(1)</script></head><body><h1>Sizes</h1><p>S, M and <b>L</b>.</p></body></html>";
        let (_, input) = article_from(&file("sizes.html", html), Visibility::Public).unwrap();
        assert!(input.title.contains("Sizes"), "{input:?}");
        assert!(
            input.body.contains("S, M and") && !input.body.contains("alert") && !input.body.contains("<b>"),
            "{input:?}"
        );
    }

    #[test]
    fn a_file_that_cannot_be_an_article_says_why() {
        assert!(article_from(&file("logo.png", "x"), Visibility::Public).unwrap_err().contains(".md"));
        let latin1 = ImportFile { name: "a.txt".into(), bytes: vec![0xe9] };
        assert!(article_from(&latin1, Visibility::Public).unwrap_err().contains("UTF-8"));
        assert!(article_from(&file("---.md", "x"), Visibility::Public).unwrap_err().contains("id"));
    }
}
