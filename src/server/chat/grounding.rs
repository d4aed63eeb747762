//! Grounded replies: before a reply is written, the shop's knowledge is searched with what the
//! customer asked (and the product they look at) and the passages found go into the prompt as
//! numbered sources; once written, the reply keeps the sources it was given and which of them it
//! cited (`[n]` in its text). Customers see the cited ones (an `assistant` source without title or
//! link); the search endpoint gives exactly what a reply would get. A reply that found nothing to
//! answer from and said so is *not answered*: the window offers a person under it, and staff
//! find the conversation by it.

use super::Replies;
use crate::{
    model::{GivenSource, Product, Source, SourceKind, Visibility},
    server::{
        error::{AppError, AppResult},
        knowledge::{Found, Wanted},
        llm::{Context, Prompt, PromptSource},
    },
};

/// How many passages a reply is given.
pub const SOURCES: i64 = 5;

/// A source as a reply keeps it (`messages.sources`, JSON): what it was given, and whether it
/// cited it.
type KeptSource = GivenSource;

impl Replies {
    /// The passages a reply to `question` is given in `context`, about `product` and what the
    /// customer said before (`earlier`), best first.
    pub async fn sources_for(
        &self,
        question: &str,
        context: &Context,
        product: Option<&Product>,
        earlier: &str,
    ) -> AppResult<Vec<Found>> {
        let about: Vec<&str> =
            product.map(|p| p.name.as_str()).into_iter().chain(Some(earlier).filter(|e| !e.is_empty())).collect();
        let about = about.join("\n");
        let wanted = Wanted {
            question,
            about: Some(about.as_str()).filter(|a| !a.is_empty()),
            tags: &context.knowledge_tags,
            for_customers: true,
            limit: SOURCES,
        };
        self.knowledge.search(&wanted).await
    }

    /// Every passage a reply in `chat_id` was given, with whether it cited it (for staff); none
    /// for a message written without sources. A message not in the chat is not found.
    pub async fn given_sources(&self, chat_id: i64, message_id: i64) -> AppResult<Vec<GivenSource>> {
        let kept: Option<(Option<String>,)> =
            sqlx::query_as("SELECT sources FROM messages WHERE id = $1 AND chat_id = $2")
                .bind(message_id)
                .bind(chat_id)
                .fetch_optional(&self.db.read)
                .await?;
        let (kept,) = kept.ok_or(AppError::not_found("message"))?;
        Ok(kept.and_then(|k| serde_json::from_str(&k).ok()).unwrap_or_default())
    }

    /// Gives the prompt the sources on what the customer just asked; when none holds an answer to
    /// it, on that in the light of what they asked the turn before (a follow-up: "and how long do
    /// I have?"). A search that fails leaves the prompt as it was (logged): a reply is never lost
    /// for want of sources.
    pub(super) async fn ground(&self, prompt: &mut Prompt) {
        let (question, earlier) = (prompt.customer_turn(), prompt.previous_customer_turn());
        let (context, product) = (&prompt.context, prompt.product.as_ref());
        let mut found = self.sources_for(&question, context, product, "").await;
        if !earlier.is_empty() && found.as_ref().is_ok_and(|found| !found.iter().any(|f| f.answers)) {
            found = self.sources_for(&question, context, product, &earlier).await;
        }
        match found {
            Ok(found) => prompt.ground(found),
            Err(error) => tracing::warn!(?error, "searching the knowledge failed; the reply goes without sources"),
        }
    }
}

/// What a written reply keeps of its grounding: its sources (JSON, see [`kept_sources`]) and
/// whether it did not answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grounded {
    pub sources: Option<String>,
    pub unanswered: bool,
}

/// What a reply written with `sources` keeps. It did not answer when none of its sources holds the
/// answer and its text says it does not know (a reply that cites a source, or that answers from
/// the conversation or the product, did).
pub fn grounded(sources: &[PromptSource], text: &str) -> Grounded {
    let answered_from_sources = sources.iter().any(|s| s.answers);
    let cites = (1..=sources.len()).any(|n| text.contains(&format!("[{n}]")));
    Grounded {
        sources: kept_sources(sources, text),
        unanswered: !answered_from_sources && !cites && says_it_does_not_know(text),
    }
}

/// The ways a reply says it has no answer (the offline assistant's words among them).
fn says_it_does_not_know(text: &str) -> bool {
    const PHRASES: [&str; 10] = [
        "could not find",
        "couldn't find",
        "can't find",
        "cannot find",
        "don't know",
        "do not know",
        "don't have that information",
        "do not have that information",
        "don't have information",
        "no information about",
    ];
    let text = text.to_lowercase().replace('’', "'");
    PHRASES.iter().any(|phrase| text.contains(phrase))
}

/// What a written reply keeps of its sources: each with whether the text cites it. None without
/// sources.
pub fn kept_sources(sources: &[PromptSource], text: &str) -> Option<String> {
    if sources.is_empty() {
        return None;
    }
    let kept: Vec<KeptSource> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| KeptSource { hit: s.hit.clone(), cited: text.contains(&format!("[{}]", i + 1)) })
        .collect();
    serde_json::to_string(&kept).ok()
}

/// The sources a customer sees under a reply: the cited ones, once each; an `assistant` one
/// without its title or link, a `staff` one never.
pub fn cited_sources(kept: Option<&str>) -> Vec<Source> {
    let Some(kept) = kept else { return Vec::new() };
    let kept: Vec<KeptSource> = serde_json::from_str(kept).unwrap_or_default();
    let mut shown: Vec<Source> = Vec::new();
    let mut seen: Vec<(SourceKind, String)> = Vec::new();
    for KeptSource { hit, .. } in kept.into_iter().filter(|s| s.cited && s.hit.visibility != Visibility::Staff) {
        if seen.contains(&(hit.kind, hit.external_id.clone())) {
            continue;
        }
        seen.push((hit.kind, hit.external_id.clone()));
        let public = hit.visibility == Visibility::Public;
        shown.push(Source {
            kind: hit.kind,
            external_id: public.then_some(hit.external_id),
            title: public.then_some(hit.title),
            url: if public { hit.url } else { None },
        });
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SearchHit;

    fn source(id: &str, visibility: Visibility) -> PromptSource {
        let hit = SearchHit {
            kind: SourceKind::Article,
            external_id: id.into(),
            title: format!("Title of {id}"),
            url: Some(format!("https://shop.example/{id}")),
            visibility,
            passage: "text".into(),
            score: 1.0,
        };
        PromptSource { hit, answers: true }
    }

    #[test]
    fn a_reply_that_says_it_does_not_know_and_had_nothing_that_answers_is_not_answered() {
        let nothing = "I could not find an answer to that in what the shop has taught me.";
        assert!(grounded(&[], nothing).unanswered);
        assert!(grounded(&[], "I don’t know the opening hours, sorry.").unanswered);
        assert!(!grounded(&[], "Hello! How can I help?").unanswered, "chit-chat is no failure");
        let mut unrelated = source("returns", Visibility::Public);
        unrelated.answers = false;
        assert!(grounded(&[unrelated.clone()], nothing).unanswered);
        assert!(!grounded(&[source("returns", Visibility::Public)], nothing).unanswered, "a passage held it");
        assert!(!grounded(&[unrelated], "I don't know for sure, but [1] says 30 days.").unanswered, "it cites");
    }

    #[test]
    fn a_customer_sees_the_cited_sources_once_and_an_assistant_only_one_without_title_or_link() {
        let given = [
            source("returns", Visibility::Public),
            source("returns", Visibility::Public),
            source("margins", Visibility::Assistant),
            source("shipping", Visibility::Public),
        ];
        let kept = kept_sources(&given, "Free returns [1][2], and see [3].");
        let shown = cited_sources(kept.as_deref());
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert_eq!(shown[0].title.as_deref(), Some("Title of returns"));
        assert_eq!(shown[0].url.as_deref(), Some("https://shop.example/returns"));
        assert_eq!((&shown[1].external_id, &shown[1].title, &shown[1].url), (&None, &None, &None), "{shown:?}");
        assert_eq!(shown[0].external_id.as_deref(), Some("returns"));
        assert!(cited_sources(kept_sources(&[], "[1]").as_deref()).is_empty());
    }
}
