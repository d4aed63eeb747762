//! The assistant used when no OpenAI key is set: deterministic, answers from the context's FAQ and
//! the product's facts, streams word by word, and says plainly what it is.

use std::time::Duration;

use futures::StreamExt;

use super::{Assistant, Chunk, ChunkStream, LlmError, Prompt};
use crate::model::Usage;

pub struct OfflineAssistant {
    word_delay: Duration,
}

impl OfflineAssistant {
    pub fn new(word_delay: Duration) -> Self {
        OfflineAssistant { word_delay }
    }

    /// The whole reply for a prompt (the same prompt always gives the same reply).
    pub fn answer(prompt: &Prompt) -> String {
        let question = prompt.customer_turn().to_lowercase();
        let words: Vec<&str> = question.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        let mut reply = format!(
            "I'm the offline assistant: no AI model is connected right now, so I answer from the {} notes I was given.",
            prompt.context.label
        );
        if let Some(product) = &prompt.product {
            reply.push_str(&format!(
                " About the {}: {} It costs ${}.{:02}.",
                product.name,
                product.description,
                product.price_cents / 100,
                product.price_cents % 100
            ));
        }
        let best = prompt
            .context
            .faq
            .iter()
            .map(|entry| {
                let hits = entry.keywords.iter().filter(|k| words.iter().any(|w| w.starts_with(k.as_str()))).count();
                (hits, entry)
            })
            .filter(|(hits, _)| *hits > 0)
            .max_by_key(|(hits, _)| *hits);
        match best {
            Some((_, entry)) => reply.push_str(&format!(" {}", entry.answer)),
            None => reply.push_str(&format!(
                " I could not find an answer to that in my {} notes. Try asking about {}, or ask for a person and a member of our team will reply here.",
                prompt.context.label,
                prompt
                    .context
                    .faq
                    .iter()
                    .filter_map(|e| e.keywords.first().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        reply.push_str(" Is there anything else I can help you with today?");
        reply
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
        let reply = OfflineAssistant::answer(&prompt);
        let prompt_tokens =
            count_words(&prompt.system) + prompt.history.iter().map(|m| count_words(&m.content)).sum::<i64>();
        let completion_tokens = count_words(&reply);
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
        model::{Product, Role},
        server::llm::{Contexts, PromptMessage},
    };

    fn prompt(context: &str, question: &str, product: Option<Product>) -> Prompt {
        let contexts = Contexts::load(None).unwrap();
        let history = vec![PromptMessage { role: Role::User, content: question.into() }];
        Prompt::build(contexts.get(context).unwrap(), product.as_ref(), history, 10_000)
    }

    #[test]
    fn the_offline_assistant_says_what_it_is_and_answers_from_the_faq() {
        let reply = OfflineAssistant::answer(&prompt("support", "How do I return a broken lamp?", None));
        assert!(reply.starts_with("I'm the offline assistant"), "{reply}");
        assert!(reply.contains("within 30 days"), "{reply}");
    }

    #[test]
    fn the_offline_assistant_knows_the_products_facts() {
        let product = Product {
            id: 3,
            name: "Drift".into(),
            description: "40 hours of battery.".into(),
            price_cents: 19900,
            image_path: String::new(),
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
