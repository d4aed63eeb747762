//! The shop's knowledge as the API and the window see it: articles and answers, what retrieval
//! finds, the sources a reply cites, and the API keys integrations write with.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use utoipa::ToSchema;

string_enum!(
    /// An article (a page, a policy) or an answer (a question and the shop's answer).
    KnowledgeKind { Article => "article", Answer => "answer" }
);

string_enum!(
    /// Who the assistant may show it to: `public` (used, and cited with its title and link),
    /// `assistant` (used; customers never see its title or link), `staff` (never given to the
    /// customer's assistant; staff find it in the panel).
    Visibility { Public => "public", Assistant => "assistant", Staff => "staff" }
);

string_enum!(
    /// What a source is.
    SourceKind { Article => "article", Answer => "answer", Product => "product" }
);

/// What a written item is when it does not say: an article.
impl Default for KnowledgeKind {
    fn default() -> Self {
        KnowledgeKind::Article
    }
}

/// Who sees an item when it does not say: everyone.
impl Default for Visibility {
    fn default() -> Self {
        Visibility::Public
    }
}

/// The kind a build that does not read it holds.
impl Default for SourceKind {
    fn default() -> Self {
        SourceKind::Article
    }
}

/// A knowledge tag: 1 to 40 letters, digits, `-` and `_` (kept lowercase). The spec states it as
/// [`TAG_PATTERN`].
pub fn is_tag(tag: &str) -> bool {
    (1..=40).contains(&tag.len()) && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A lowercase slug: 1 to 40 of a-z, 0-9, `-` and `_`, starting with a letter or a digit (a new
/// context's id, a canned response's shortcut).
pub fn is_slug(text: &str) -> bool {
    (1..=40).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && text.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// [`is_tag`] as a pattern.
pub const TAG_PATTERN: &str = r"^[A-Za-z0-9_-]{1,40}$";

/// An article or an answer, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct KnowledgeItem {
    /// The shop's own id for it.
    pub external_id: String,
    pub kind: KnowledgeKind,
    pub title: String,
    /// Markdown (an answer: the answer's text).
    pub body: String,
    pub url: Option<String>,
    pub tags: Vec<String>,
    pub visibility: Visibility,
    /// How many passages retrieval finds it by.
    pub passages: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A page of knowledge, by title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct KnowledgePage {
    pub items: Vec<KnowledgeItem>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// One passage retrieval found, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct SearchHit {
    pub kind: SourceKind,
    pub external_id: String,
    pub title: String,
    pub url: Option<String>,
    pub visibility: Visibility,
    pub passage: String,
    /// Higher is better; comparable within one search only.
    pub score: f64,
}

/// A passage a reply was given, as it keeps it and staff see it: everything, and whether the
/// reply cited it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct GivenSource {
    #[serde(flatten)]
    pub hit: SearchHit,
    pub cited: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct SearchResults {
    pub results: Vec<SearchHit>,
}

/// A source a reply cites, as the customer may see it: an `assistant` one has no id, title or
/// link. The window shows only titles and links, so its build reads nothing else (the
/// window's download has a budget).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Source {
    #[cfg_attr(not(feature = "ssr"), serde(skip_deserializing, default))]
    pub kind: SourceKind,
    /// The shop's id of a `public` source (an assistant-only one names nothing).
    #[cfg_attr(not(feature = "ssr"), serde(skip_deserializing))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// An API key as listed (the key itself is shown once, when created).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The key's first characters.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// A new API key: `key` goes in `Authorization: Bearer …` and is shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct CreatedApiKey {
    pub id: i64,
    pub name: String,
    pub key: String,
}
