//! The assistant: contexts, prompt assembly, and the providers that stream a reply.

mod offline;
mod openai;

use std::{path::Path, sync::Arc, time::Duration};

use futures::stream::BoxStream;
use serde::Deserialize;

pub use offline::OfflineAssistant;
pub use openai::{OpenAiAssistant, OpenAiEmbedder};

use super::{
    config::Config,
    error::{AppError, AppResult},
};
use crate::model::{ContextInfo, Product, Role, SearchHit, Usage};

/// One assistant persona: from the contexts file on a first start, then as admins keep it
/// (`contexts::ContextStore`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Context {
    pub id: String,
    pub label: String,
    pub description: String,
    pub greeting: String,
    pub system_prompt: String,
    /// Seeds the knowledge base on a first start (as answers only the assistant sees).
    #[serde(default)]
    pub faq: Vec<FaqEntry>,
    /// Only knowledge with one of these tags answers in this context (none: all of it).
    #[serde(default)]
    pub knowledge_tags: Vec<String>,
    /// Answers only from the shop's knowledge (and the product): when none of it holds the
    /// answer, the reply says so and offers a person without asking the model. Not strict, the
    /// model may answer general questions from what it knows, never the shop's facts.
    #[serde(default)]
    pub strict: bool,
    /// The model this context answers with (none: `OPENAI_MODEL`).
    #[serde(default)]
    pub model: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FaqEntry {
    pub keywords: Vec<String>,
    pub answer: String,
}

impl Context {
    pub fn info(&self) -> ContextInfo {
        ContextInfo { id: self.id.clone(), label: self.label.clone(), description: self.description.clone() }
    }
}

/// The 1 to 3 contexts in force; the first is the default.
#[derive(Debug, Clone)]
pub struct Contexts(Vec<Context>);

const BUILT_IN_CONTEXTS: &str = include_str!("../../../config/contexts.toml");

impl Contexts {
    pub fn load(file: Option<&Path>) -> Result<Contexts, String> {
        match file {
            None => Contexts::parse(BUILT_IN_CONTEXTS, "the built-in contexts"),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read FRONTDESK_CONTEXTS_FILE {}: {e}", path.display()))?;
                Contexts::parse(&text, &path.display().to_string())
            }
        }
    }

    pub fn parse(text: &str, origin: &str) -> Result<Contexts, String> {
        #[derive(Deserialize)]
        struct File {
            context: Vec<Context>,
        }
        let file: File = toml::from_str(text).map_err(|e| format!("{origin} is not valid: {}", e.message()))?;
        Contexts::new(file.context).map_err(|e| format!("{origin}: {e}"))
    }

    /// 1 to 3 contexts, each with an id of its own, a label and a system prompt; their knowledge
    /// tags lowercase.
    pub fn new(mut contexts: Vec<Context>) -> Result<Contexts, String> {
        for context in &mut contexts {
            for tag in &mut context.knowledge_tags {
                *tag = tag.to_lowercase();
                if !crate::model::is_tag(tag) {
                    return Err(format!("context '{}' has a knowledge tag that is not a-z, 0-9, - and _", context.id));
                }
            }
        }
        if contexts.is_empty() || contexts.len() > 3 {
            return Err(format!("there must be 1 to 3 contexts (found {})", contexts.len()));
        }
        for (i, c) in contexts.iter().enumerate() {
            let blank = |text: &str| crate::model::trim_spaces(text).is_empty();
            if blank(&c.id) || blank(&c.label) || blank(&c.system_prompt) {
                return Err(format!("context {} needs an id, a label and a system_prompt", i + 1));
            }
            if contexts[..i].iter().any(|other| other.id == c.id) {
                return Err(format!("context id '{}' appears twice", c.id));
            }
        }
        Ok(Contexts(contexts))
    }

    pub fn all(&self) -> &[Context] {
        &self.0
    }

    pub fn default_context(&self) -> &Context {
        &self.0[0]
    }

    pub fn get(&self, id: &str) -> Option<&Context> {
        self.0.iter().find(|c| c.id == id)
    }

    /// A context by id, or a 422 that lists the known ones.
    pub fn check(&self, id: &str) -> AppResult<&Context> {
        self.get(id).ok_or_else(|| {
            let known: Vec<_> = self.0.iter().map(|c| c.id.as_str()).collect();
            AppError::Invalid(format!("unknown context '{id}'; choose one of: {}", known.join(", ")))
        })
    }

    /// The context `id` names, or the default one.
    pub fn or_default(&self, id: Option<&str>) -> &Context {
        id.and_then(|id| self.get(id)).unwrap_or_else(|| self.default_context())
    }

    /// What clients are told of the contexts.
    pub fn infos(&self) -> Vec<ContextInfo> {
        self.0.iter().map(Context::info).collect()
    }
}

/// A message of the conversation as the assistant sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptMessage {
    pub role: Role,
    pub content: String,
}

/// Everything a provider needs to write one reply.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// The context's system prompt, with the product's facts when there is one.
    pub system: String,
    /// The conversation so far, oldest first, trimmed to the budget; ends with the customer's message.
    pub history: Vec<PromptMessage>,
    pub context: Context,
    pub product: Option<Product>,
    /// What the shop's knowledge holds on the question, numbered from 1 as the system prompt
    /// gives them (see [`Prompt::ground`]).
    pub sources: Vec<PromptSource>,
}

/// A passage of the shop's knowledge given to the assistant.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptSource {
    pub hit: SearchHit,
    /// It holds enough of the question to answer it (the offline assistant quotes only these).
    pub answers: bool,
}

/// The most of the shop's text a prompt carries, in characters (about 2,000 tokens).
pub const SOURCES_BUDGET_CHARS: usize = 8_000;

/// What the assistant is told to do with sources, in a strict context.
const SOURCES_RULE: &str = "Answer only from the shop's sources below (and the product above, if any). \
     Cite the sources you use by their number in square brackets, like [1]. If they do not hold the \
     answer, say plainly that you do not know and offer to bring in a person from the team; never \
     guess a policy, a price or a date.";

/// What the assistant is told to do with sources, in a context that is not strict.
const SOURCES_PREFERRED_RULE: &str = "Answer from the shop's sources below (and the product above, if \
     any) where they hold the answer, citing them by their number in square brackets, like [1]. You \
     may answer general questions from what you know, but never state the shop's policies, prices, \
     stock or dates unless a source or the product says them: if they do not, say plainly that you \
     do not know and offer to bring in a person from the team.";

/// What a strict context's assistant is told on a product's page when no source was found.
const PRODUCT_ONLY_RULE: &str = "Answer only from the product above. If it does not hold the answer, say \
     plainly that you do not know and offer to bring in a person from the team.";

impl Prompt {
    /// Gives the assistant the shop's passages on the question, best first and within
    /// [`SOURCES_BUDGET_CHARS`]: numbered in the system prompt with the rule to answer from them
    /// and cite them. None found: the prompt stays as it was.
    pub fn ground(&mut self, mut sources: Vec<PromptSource>) {
        let mut used = 0;
        sources.retain(|s| {
            used += s.hit.title.chars().count() + s.hit.passage.chars().count();
            used <= SOURCES_BUDGET_CHARS
        });
        if sources.is_empty() {
            if self.context.strict && self.product.is_some() {
                self.system.push_str("\n\n");
                self.system.push_str(PRODUCT_ONLY_RULE);
            }
            return;
        }
        self.system.push_str("\n\n");
        self.system.push_str(if self.context.strict { SOURCES_RULE } else { SOURCES_PREFERRED_RULE });
        for (i, source) in sources.iter().enumerate() {
            self.system.push_str(&format!("\n\n[{}] {}\n{}", i + 1, source.hit.title, source.hit.passage));
        }
        self.sources = sources;
    }

    /// Tells the assistant where the customer is: the shop's page the conversation began on.
    pub fn on_page(&mut self, page: &crate::model::Page) {
        let title = page.title.as_deref().map(|t| format!("\"{t}\" ")).unwrap_or_default();
        self.system.push_str(&format!("\n\nThe customer is on this page of the shop: {title}({}).", page.url));
    }

    /// A strict context with nothing to answer from: no source holds the answer and no product
    /// is in view. The reply is the hand-off, without asking the model.
    pub fn has_nothing_to_answer_from(&self) -> bool {
        self.context.strict && self.product.is_none() && !self.sources.iter().any(|s| s.answers)
    }

    /// Builds the prompt: system prompt, product facts, and the newest history that fits `budget_chars`.
    pub fn build(
        context: &Context,
        product: Option<&Product>,
        history: Vec<PromptMessage>,
        budget_chars: usize,
    ) -> Prompt {
        let mut system = context.system_prompt.trim().to_string();
        if let Some(p) = product {
            system.push_str(&format!("\n\nThe customer is looking at this product:\nName: {}\n{}", p.name, p.facts()));
            if let Some(url) = &p.url {
                system.push_str(&format!("\nPage: {url}"));
            }
        }
        let mut kept = Vec::new();
        let mut used = 0usize;
        for message in history.into_iter().rev() {
            let len = message.content.chars().count();
            if used + len > budget_chars && !kept.is_empty() {
                break;
            }
            used += len;
            kept.push(message);
        }
        kept.reverse();
        Prompt { system, history: kept, context: context.clone(), product: product.cloned(), sources: Vec::new() }
    }

    /// Characters sent upstream: the system prompt and the history.
    pub fn chars(&self) -> usize {
        self.system.chars().count() + self.history.iter().map(|m| m.content.chars().count()).sum::<usize>()
    }

    /// What the customer said since the last answer: their newest messages (a burst sent while
    /// the assistant wrote is answered as one), oldest first, a line each.
    pub fn customer_turn(&self) -> String {
        self.customer_turns(0)
    }

    /// What the customer said the turn before ([`Prompt::customer_turn`]'s, one answer back): what
    /// a follow-up question ("and how long do I have?") is about.
    pub fn previous_customer_turn(&self) -> String {
        self.customer_turns(1)
    }

    /// The customer's messages of the turn `back` answers before the newest.
    fn customer_turns(&self, back: usize) -> String {
        let mut messages = self.history.iter().rev().peekable();
        for _ in 0..back {
            messages.by_ref().skip_while(|m| m.role != Role::User).take_while(|m| m.role == Role::User).for_each(drop);
        }
        let mut turn: Vec<&str> = messages
            .skip_while(|m| m.role != Role::User)
            .take_while(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .collect();
        turn.reverse();
        turn.join("\n")
    }
}

/// A piece of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Text(String),
    Usage(Usage),
}

pub type ChunkStream = BoxStream<'static, Result<Chunk, LlmError>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmErrorKind {
    /// 429 from upstream.
    RateLimited,
    /// 5xx from upstream.
    Server,
    /// Could not connect.
    Connect,
    /// No data within the idle timeout.
    Timeout,
    /// Upstream refused the request (4xx other than 429): retrying will not help.
    Rejected,
    /// The stream broke or carried something unreadable.
    Stream,
}

impl LlmErrorKind {
    /// Its name in metrics.
    pub fn label(self) -> &'static str {
        match self {
            LlmErrorKind::RateLimited => "rate_limited",
            LlmErrorKind::Server => "server",
            LlmErrorKind::Connect => "connect",
            LlmErrorKind::Timeout => "timeout",
            LlmErrorKind::Rejected => "rejected",
            LlmErrorKind::Stream => "stream",
        }
    }
}

/// A provider failure, with a reason fit to show a customer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct LlmError {
    pub kind: LlmErrorKind,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl LlmError {
    pub fn new(kind: LlmErrorKind, message: impl Into<String>) -> Self {
        LlmError { kind, message: message.into(), retry_after: None }
    }

    /// Worth another try (before the first token only).
    pub fn is_retryable(&self) -> bool {
        !matches!(self.kind, LlmErrorKind::Rejected)
    }
}

#[async_trait::async_trait]
pub trait Assistant: Send + Sync + 'static {
    /// `openai` or `offline`.
    fn name(&self) -> &'static str;

    /// Starts a reply; the stream yields text pieces and, last, the usage.
    async fn stream(&self, prompt: Prompt) -> Result<ChunkStream, LlmError>;
}

/// The provider the settings ask for: OpenAI-compatible with a key, offline without.
/// What turns text into vectors that lie close when the texts mean the same (for retrieval).
#[async_trait::async_trait]
pub trait Embedder: Send + Sync {
    /// The model's name: vectors of another model are not compared with its own.
    fn model(&self) -> &str;
    /// One vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError>;
}

/// The embedder `OPENAI_EMBEDDING_MODEL` names on the assistant's endpoint; none without it (or
/// without a key).
pub fn embedder_from_config(config: &Config) -> Result<Option<Arc<dyn Embedder>>, String> {
    let model = config.openai_embedding_model.as_deref().map(str::trim).filter(|m| !m.is_empty());
    match (config.openai_key(), model) {
        (Some(key), Some(model)) => {
            Ok(Some(Arc::new(OpenAiEmbedder::new(key, &config.openai_base_url, model, config.connect_timeout())?)))
        }
        _ => Ok(None),
    }
}

pub fn from_config(config: &Config) -> Result<Arc<dyn Assistant>, String> {
    match config.openai_key() {
        Some(key) => Ok(Arc::new(OpenAiAssistant::new(
            key,
            &config.openai_base_url,
            &config.openai_model,
            config.connect_timeout(),
        )?)),
        None => Ok(Arc::new(OfflineAssistant::new(Duration::from_millis(config.offline_word_delay_ms)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: Role, content: &str) -> PromptMessage {
        PromptMessage { role, content: content.into() }
    }

    #[test]
    fn the_built_in_contexts_are_sales_support_and_billing() {
        let contexts = Contexts::load(None).unwrap();
        let ids: Vec<_> = contexts.all().iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["sales", "support", "billing"]);
    }

    #[test]
    fn a_contexts_file_with_four_contexts_is_refused_with_a_reason() {
        let one =
            "[[context]]\nid = \"x{}\"\nlabel = \"X\"\ndescription = \"d\"\ngreeting = \"g\"\nsystem_prompt = \"p\"\n";
        let text: String = (0..4).map(|i| one.replace("{}", &i.to_string())).collect();
        let err = Contexts::parse(&text, "test.toml").unwrap_err();
        assert!(err.contains("1 to 3 contexts"), "{err}");
    }

    #[test]
    fn the_prompt_keeps_the_newest_history_within_the_budget() {
        let contexts = Contexts::load(None).unwrap();
        let history =
            vec![msg(Role::User, "aaaaaaaaaa"), msg(Role::Assistant, "bbbbbbbbbb"), msg(Role::User, "cccccccccc")];
        let prompt = Prompt::build(contexts.default_context(), None, history, 25);
        let kept: Vec<_> = prompt.history.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(kept, ["bbbbbbbbbb", "cccccccccc"]);
    }

    #[test]
    fn the_customers_turn_is_every_message_since_the_last_answer() {
        let contexts = Contexts::load(None).unwrap();
        let history = vec![
            msg(Role::User, "earlier"),
            msg(Role::Assistant, "answered"),
            msg(Role::User, "hi"),
            msg(Role::User, "my order didn't arrive"),
            msg(Role::User, "can you check?"),
        ];
        let prompt = Prompt::build(contexts.default_context(), None, history, 10_000);
        assert_eq!(prompt.customer_turn(), "hi\nmy order didn't arrive\ncan you check?");
        let prompt = Prompt::build(contexts.default_context(), None, vec![msg(Role::Assistant, "hello")], 10_000);
        assert_eq!(prompt.customer_turn(), "");
    }

    #[test]
    fn the_previous_turn_is_what_the_customer_said_one_answer_before() {
        let contexts = Contexts::load(None).unwrap();
        let history = vec![
            msg(Role::Assistant, "hello"),
            msg(Role::User, "what is your returns policy?"),
            msg(Role::User, "for a lamp"),
            msg(Role::Assistant, "30 days"),
            msg(Role::User, "and how long do refunds take?"),
        ];
        let prompt = Prompt::build(contexts.default_context(), None, history, 10_000);
        assert_eq!(prompt.previous_customer_turn(), "what is your returns policy?\nfor a lamp");
        assert_eq!(prompt.customer_turn(), "and how long do refunds take?");
        let first = Prompt::build(contexts.default_context(), None, vec![msg(Role::User, "hi")], 10_000);
        assert_eq!(first.previous_customer_turn(), "");
    }

    #[test]
    fn the_prompt_carries_the_products_facts() {
        let contexts = Contexts::load(None).unwrap();
        let product = Product {
            id: "lamp".into(),
            name: "Lamp".into(),
            description: "Bright.".into(),
            price: crate::model::Price { amount: "59.00".into(), currency: "USD".into() },
            url: None,
            image_url: None,
            available: true,
            attributes: [("Colour".to_string(), "Brass".to_string())].into(),
        };
        let prompt = Prompt::build(contexts.default_context(), Some(&product), vec![msg(Role::User, "hi")], 100);
        assert!(
            prompt.system.contains("Name: Lamp")
                && prompt.system.contains("$59.00")
                && prompt.system.contains("Colour: Brass")
                && prompt.system.contains("Bright.")
        );
    }
}
