//! The OpenAI-compatible provider: async-openai with an explicit key, base URL and model; and the
//! same endpoint's embeddings (`OPENAI_EMBEDDING_MODEL`).
//!
//! A small tower layer turns non-success responses into errors that keep the HTTP status and the
//! `Retry-After` header, so the reply task can decide to retry (before the first token only).

use std::{
    future::Future,
    pin::Pin,
    task::{Context as TaskContext, Poll},
    time::Duration,
};

use async_openai::{
    config::OpenAIConfig,
    error::OpenAIError,
    middleware::{HttpRequestFactory, ReqwestService},
    types::chat::{
        ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
        ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage, ChatCompletionRequestSystemMessageContent,
        ChatCompletionRequestUserMessage, ChatCompletionRequestUserMessageContent, ChatCompletionStreamOptions,
        CreateChatCompletionRequestArgs,
    },
    types::embeddings::{CreateEmbeddingRequest, EmbeddingInput},
    Client,
};
use futures::StreamExt;

use super::{Assistant, Chunk, ChunkStream, Embedder, LlmError, LlmErrorKind, Prompt};
use crate::model::{Role, Usage};

pub struct OpenAiAssistant {
    client: Client<OpenAIConfig>,
    model: String,
}

/// A client of the endpoint at `base_url` with `key`.
fn client(key: &str, base_url: &str, connect_timeout: Duration) -> Result<Client<OpenAIConfig>, String> {
    let http = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let service = StatusService { inner: ReqwestService::new(http) };
    let config = OpenAIConfig::new().with_api_key(key).with_api_base(base_url.trim_end_matches('/'));
    Ok(Client::with_config(config).with_http_service(service))
}

impl OpenAiAssistant {
    pub fn new(key: &str, base_url: &str, model: &str, connect_timeout: Duration) -> Result<Self, String> {
        Ok(OpenAiAssistant { client: client(key, base_url, connect_timeout)?, model: model.to_string() })
    }
}

/// Embeddings from an OpenAI-compatible `/embeddings` endpoint.
pub struct OpenAiEmbedder {
    client: Client<OpenAIConfig>,
    model: String,
}

impl OpenAiEmbedder {
    pub fn new(key: &str, base_url: &str, model: &str, connect_timeout: Duration) -> Result<Self, String> {
        Ok(OpenAiEmbedder { client: client(key, base_url, connect_timeout)?, model: model.to_string() })
    }
}

#[async_trait::async_trait]
impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        let request = CreateEmbeddingRequest {
            model: self.model.clone(),
            input: EmbeddingInput::StringArray(texts.to_vec()),
            ..Default::default()
        };
        let response = self.client.embeddings().create(request).await.map_err(map_error)?;
        let mut data = response.data;
        data.sort_by_key(|e| e.index);
        if data.len() != texts.len() {
            return Err(LlmError::new(
                LlmErrorKind::Stream,
                format!("the embedding service answered {} of {} texts", data.len(), texts.len()),
            ));
        }
        Ok(data.into_iter().map(|e| e.embedding).collect())
    }
}

fn to_request_messages(prompt: &Prompt) -> Vec<ChatCompletionRequestMessage> {
    let mut messages = vec![ChatCompletionRequestMessage::from(ChatCompletionRequestSystemMessage::from(
        ChatCompletionRequestSystemMessageContent::from(prompt.system.clone()),
    ))];
    for m in &prompt.history {
        match m.role {
            Role::User => messages.push(
                ChatCompletionRequestUserMessage::from(ChatCompletionRequestUserMessageContent::from(
                    m.content.clone(),
                ))
                .into(),
            ),
            Role::Assistant | Role::Agent => messages.push(
                ChatCompletionRequestAssistantMessage::from(ChatCompletionRequestAssistantMessageContent::from(
                    m.content.clone(),
                ))
                .into(),
            ),
            Role::System => {}
        }
    }
    messages
}

#[async_trait::async_trait]
impl Assistant for OpenAiAssistant {
    fn name(&self) -> &'static str {
        "openai"
    }

    async fn stream(&self, prompt: Prompt) -> Result<ChunkStream, LlmError> {
        let request = CreateChatCompletionRequestArgs::default()
            // The context's own model, or the server's.
            .model(prompt.context.model.clone().unwrap_or_else(|| self.model.clone()))
            .messages(to_request_messages(&prompt))
            .stream_options(ChatCompletionStreamOptions { include_usage: Some(true), ..Default::default() })
            .build()
            .map_err(|e| LlmError::new(LlmErrorKind::Rejected, format!("the request could not be built: {e}")))?;
        let stream = self.client.chat().create_stream(request).await.map_err(map_error)?;
        Ok(stream
            .flat_map(|item| {
                let chunks: Vec<Result<Chunk, LlmError>> = match item {
                    Err(e) => vec![Err(map_error(e))],
                    Ok(response) => {
                        let mut out: Vec<Result<Chunk, LlmError>> = response
                            .choices
                            .into_iter()
                            .filter_map(|c| c.delta.content)
                            .filter(|t| !t.is_empty())
                            .map(|t| Ok(Chunk::Text(t)))
                            .collect();
                        if let Some(u) = response.usage {
                            out.push(Ok(Chunk::Usage(Usage {
                                prompt_tokens: u.prompt_tokens as i64,
                                completion_tokens: u.completion_tokens as i64,
                                total_tokens: u.total_tokens as i64,
                            })));
                        }
                        out
                    }
                };
                futures::stream::iter(chunks)
            })
            .boxed())
    }
}

/// A non-success upstream response, with what is needed to decide on a retry.
#[derive(Debug, thiserror::Error)]
#[error("upstream answered HTTP {status}")]
struct UpstreamStatus {
    status: u16,
    retry_after: Option<Duration>,
    detail: String,
}

fn map_error(error: OpenAIError) -> LlmError {
    match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<UpstreamStatus>() {
            Ok(s) => status_error(s.status, s.retry_after, &s.detail),
            Err(other) => LlmError::new(LlmErrorKind::Stream, format!("the assistant service failed: {other}")),
        },
        OpenAIError::ApiError(api) => status_error(api.status_code.as_u16(), None, &api.api_error.message),
        OpenAIError::Reqwest(e) if e.is_connect() => {
            LlmError::new(LlmErrorKind::Connect, "could not connect to the assistant service")
        }
        OpenAIError::Reqwest(e) if e.is_timeout() => {
            LlmError::new(LlmErrorKind::Timeout, "the assistant service did not answer in time")
        }
        OpenAIError::Reqwest(_) | OpenAIError::StreamError(_) => {
            LlmError::new(LlmErrorKind::Stream, "the connection to the assistant service was cut off")
        }
        OpenAIError::JSONDeserialize(..) => {
            LlmError::new(LlmErrorKind::Stream, "the assistant service sent a reply that could not be read")
        }
        other => LlmError::new(LlmErrorKind::Rejected, format!("the assistant service refused the request: {other}")),
    }
}

fn status_error(status: u16, retry_after: Option<Duration>, detail: &str) -> LlmError {
    tracing::warn!(status, detail, "upstream error");
    let (kind, message) = match status {
        429 => (LlmErrorKind::RateLimited, "the assistant service is busy (rate limited)".to_string()),
        500..=599 => (LlmErrorKind::Server, format!("the assistant service had an error (HTTP {status})")),
        401 | 403 => (LlmErrorKind::Rejected, "the assistant service refused our credentials".to_string()),
        _ => (LlmErrorKind::Rejected, format!("the assistant service refused the request (HTTP {status})")),
    };
    LlmError { kind, message, retry_after }
}

/// Parses `Retry-After` given in seconds (the form OpenAI and most proxies send).
fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

#[derive(Clone)]
struct StatusService<S> {
    inner: S,
}

impl<S> tower::Service<HttpRequestFactory> for StatusService<S>
where
    S: tower::Service<HttpRequestFactory, Response = reqwest::Response, Error = OpenAIError> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            if response.status().is_success() {
                return Ok(response);
            }
            let status = response.status().as_u16();
            let retry_after = parse_retry_after(response.headers());
            let mut detail = response.text().await.unwrap_or_default();
            detail.truncate(500);
            Err(OpenAIError::Boxed(Box::new(UpstreamStatus { status, retry_after, detail })))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds_and_garbage_is_ignored() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(reqwest::header::RETRY_AFTER, "0.25".parse().unwrap());
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&headers), None);
    }

    #[test]
    fn a_400_is_not_retried_but_429_and_500_are() {
        assert!(!status_error(400, None, "").is_retryable());
        assert!(status_error(429, Some(Duration::from_secs(1)), "").is_retryable());
        assert!(status_error(503, None, "").is_retryable());
    }
}
