//! The assistant used when no OpenAI key is set: deterministic, answers from the shop's knowledge
//! (the best passages that hold the question, quoted briefly with their source number) and the
//! product's facts, says plainly when it does not know and offers a person, streams word by word,
//! and says what it is.

use std::time::Duration;

use futures::StreamExt;

use super::{Assistant, Chunk, ChunkStream, LlmError, Prompt};
use crate::model::Usage;

/// A quoted passage is cut after about this many words.
const QUOTE_WORDS: usize = 60;
/// At most this many sources are quoted (a question may ask two things).
const QUOTED: usize = 2;

pub struct OfflineAssistant {
    word_delay: Duration,
    /// Says only [`HAND_OFF`] (a strict context with nothing to answer from), costing nothing.
    hand_off_only: bool,
}

/// What the assistant says when the shop's knowledge holds no answer.
pub const HAND_OFF: &str = "I could not find an answer to that in what the shop has taught me. Ask for a person \
     and someone from our team will reply here.";

impl OfflineAssistant {
    pub fn new(word_delay: Duration) -> Self {
        OfflineAssistant { word_delay, hand_off_only: false }
    }

    /// The hand-off alone, at once: for a strict context with nothing to answer from.
    pub fn hand_off() -> Self {
        OfflineAssistant { word_delay: Duration::ZERO, hand_off_only: true }
    }

    /// The whole reply for a prompt (the same prompt always gives the same reply).
    pub fn answer(prompt: &Prompt) -> String {
        let mut reply = String::from(
            "I'm the offline assistant: no AI model is connected right now, so I answer from what the shop has taught me.",
        );
        if let Some(product) = &prompt.product {
            reply
                .push_str(&format!(" About the {}: {} It costs {}.", product.name, product.description, product.price));
            if !product.available {
                reply.push_str(" It is out of stock right now.");
            }
        }
        // The best passage of each source that holds the question, best first.
        let mut quoted: Vec<(usize, &str, &str)> = Vec::new();
        for (i, source) in prompt.sources.iter().enumerate() {
            if source.answers && !quoted.iter().any(|(_, id, _)| *id == source.hit.external_id) {
                quoted.push((i + 1, &source.hit.external_id, &source.hit.passage));
            }
            if quoted.len() == QUOTED {
                break;
            }
        }
        if quoted.is_empty() {
            if prompt.product.is_some() {
                reply.push_str(
                    " If that does not answer your question, I do not know more: ask for a person and someone from our team will reply here.",
                );
            } else {
                reply.push(' ');
                reply.push_str(HAND_OFF);
            }
        } else {
            for (n, _, passage) in quoted {
                reply.push_str(&format!(" {} [{n}]", excerpt(passage)));
            }
        }
        reply.push_str(" Is there anything else I can help you with today?");
        reply
    }
}

/// A passage on one line, cut at a word after [`QUOTE_WORDS`] words.
fn excerpt(passage: &str) -> String {
    let words: Vec<&str> = passage.split_whitespace().collect();
    if words.len() <= QUOTE_WORDS {
        words.join(" ")
    } else {
        format!("{}…", words[..QUOTE_WORDS].join(" "))
    }
}

fn count_words(text: &str) -> i64 {
    text.split_whitespace().count() as i64
}

#[async_trait::async_trait]
impl Assistant for OfflineAssistant {
    fn name(&self) -> &'static str {
        "offline"
    }

    async fn stream(&self, prompt: Prompt) -> Result<ChunkStream, LlmError> {
        let (reply, prompt_tokens, completion_tokens) = if self.hand_off_only {
            (HAND_OFF.to_string(), 0, 0)
        } else {
            let reply = OfflineAssistant::answer(&prompt);
            let prompt_words =
                count_words(&prompt.system) + prompt.history.iter().map(|m| count_words(&m.content)).sum::<i64>();
            let reply_words = count_words(&reply);
            (reply, prompt_words, reply_words)
        };
        let mut pieces: Vec<String> = Vec::new();
        let mut words = reply.split(' ').peekable();
        while let Some(word) = words.next() {
            pieces.push(if words.peek().is_some() { format!("{word} ") } else { word.to_string() });
        }
        let delay = self.word_delay;
        let usage = Usage { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
        let words = futures::stream::iter(pieces.into_iter().enumerate()).then(move |(i, piece)| async move {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok(Chunk::Text(piece))
        });
        Ok(words.chain(futures::stream::once(async move { Ok(Chunk::Usage(usage)) })).boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        model::{Product, Role, SearchHit, SourceKind, Visibility},
        server::llm::{Contexts, PromptMessage, PromptSource},
    };

    fn prompt(context: &str, question: &str, product: Option<Product>) -> Prompt {
        let contexts = Contexts::load(None).unwrap();
        let history = vec![PromptMessage { role: Role::User, content: question.into() }];
        Prompt::build(contexts.get(context).unwrap(), product.as_ref(), history, 10_000)
    }

    fn source(id: &str, passage: &str, answers: bool) -> PromptSource {
        let hit = SearchHit {
            kind: SourceKind::Article,
            external_id: id.into(),
            title: id.into(),
            url: None,
            visibility: Visibility::Public,
            passage: passage.into(),
            score: 1.0,
        };
        PromptSource { hit, answers }
    }

    #[test]
    fn the_offline_assistant_quotes_the_sources_that_answer_and_cites_their_numbers() {
        let mut p = prompt("support", "How do I return a broken lamp?", None);
        p.ground(vec![
            source("shipping", "We ship in two days.", false),
            source("returns", "Send it back within 30 days.", true),
            source("returns", "Refunds take a week.", true),
        ]);
        let reply = OfflineAssistant::answer(&p);
        assert!(reply.starts_with("I'm the offline assistant"), "{reply}");
        assert!(reply.contains("Send it back within 30 days. [2]"), "{reply}");
        assert!(
            !reply.contains("[1]") && !reply.contains("[3]"),
            "one passage a source, only those that answer: {reply}"
        );
    }

    #[test]
    fn without_a_source_that_answers_the_offline_assistant_says_so_and_offers_a_person() {
        let mut p = prompt("support", "What is the capital of France?", None);
        p.ground(vec![source("shipping", "We ship to France.", false)]);
        let reply = OfflineAssistant::answer(&p);
        assert!(reply.contains("could not find an answer") && reply.contains("Ask for a person"), "{reply}");
        assert!(!reply.contains("[1]") && !reply.contains("We ship"), "{reply}");
    }

    #[test]
    fn a_long_passage_is_quoted_in_part() {
        assert_eq!(excerpt("a  b\nc"), "a b c");
        let long = "word ".repeat(100);
        assert!(excerpt(&long).ends_with("word…"));
        assert_eq!(excerpt(&long).split_whitespace().count(), QUOTE_WORDS);
    }

    #[test]
    fn the_offline_assistant_knows_the_products_facts() {
        let product = Product {
            id: "3".into(),
            name: "Drift".into(),
            description: "40 hours of battery.".into(),
            price: crate::model::Price { amount: "199.00".into(), currency: "USD".into() },
            url: None,
            image_url: None,
            available: true,
            attributes: Default::default(),
        };
        let reply = OfflineAssistant::answer(&prompt("sales", "tell me more", Some(product)));
        assert!(reply.contains("40 hours of battery") && reply.contains("$199.00"), "{reply}");
    }

    #[tokio::test]
    async fn the_offline_assistant_streams_word_by_word_and_reports_usage() {
        let p = prompt("billing", "Where is my invoice?", None);
        let expected = OfflineAssistant::answer(&p);
        let chunks: Vec<_> = OfflineAssistant::new(Duration::ZERO).stream(p).await.unwrap().collect().await;
        let text: String = chunks
            .iter()
            .filter_map(|c| match c {
                Ok(Chunk::Text(t)) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, expected);
        assert!(chunks.len() > 10);
        assert!(matches!(chunks.last(), Some(Ok(Chunk::Usage(u))) if u.completion_tokens == count_words(&expected)));
    }
}
