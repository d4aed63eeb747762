//! How the window's server functions reach the server: `fetch` through gloo-net, as server_fn's
//! browser client does, with the embedded window's visitor token in [`TOKEN_HEADER`] both ways.
//! Its own request and response types read that one header straight from the browser's response:
//! server_fn's response hands headers out only as an `http::HeaderMap` built from all of them,
//! whose header-name parser alone weighed 7 KiB (brotli) of what a shop's visitor downloads.
//! The window's calls send JSON (or text, or a query) and read text; forms and streams are refused.
//! Their JSON is read as text ([`TextJson`]), as the page's hydration data is.

use std::future::Future;

use http::Method;
use send_wrapper::SendWrapper;
use server_fn::{
    client::{browser::BrowserClient, get_server_url, Client},
    codec::Post,
    error::{FromServerFnError, IntoAppError, ServerFnErrorErr},
    redirect::REDIRECT_HEADER,
    request::{browser::Request, ClientReq},
    response::{browser::Response, ClientRes},
    Bytes, ContentType, Decodes, Encodes, Format, FormatType,
};

use super::browser::{embed_token, keep_embed_token};
use crate::model::TOKEN_HEADER;

/// JSON in the body of a `POST`, both ways: server_fn's `Json`, read as text.
pub type Json = Post<TextJson>;

/// JSON read with `serde_json::from_str` rather than server_fn's `from_slice`: the page's hydration
/// data (leptos's resources) is read as text, and with one reader the bundle carries one decoder
/// per response type instead of two (the second weighed 3.4 KiB brotli of the window's bundle).
pub struct TextJson;

impl ContentType for TextJson {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for TextJson {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: serde::Serialize> Encodes<T> for TextJson {
    type Error = serde_json::Error;

    fn encode(value: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(value).map(Bytes::from)
    }
}

impl<T: serde::de::DeserializeOwned> Decodes<T> for TextJson {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(|_| serde::de::Error::custom("the body is not UTF-8"))?;
        serde_json::from_str(text)
    }
}

/// Sends the window's server function calls: inside an embed, with the visitor's token in
/// [`TOKEN_HEADER`], keeping the one that comes back when a call created the visitor.
pub struct WindowClient;

impl<E, IS, OS> Client<E, IS, OS> for WindowClient
where
    E: FromServerFnError,
    IS: FromServerFnError,
    OS: FromServerFnError,
{
    type Request = WindowRequest;
    type Response = WindowResponse;

    fn send(request: WindowRequest) -> impl Future<Output = Result<WindowResponse, E>> + Send {
        // The browser runs one thread: the future never moves between threads.
        SendWrapper::new(async move {
            let response =
                request.0.take().send().await.map_err(|e| ServerFnErrorErr::Request(e.to_string()).into_app_error())?;
            if let Some(token) = response.headers().get(TOKEN_HEADER) {
                keep_embed_token(&token);
            }
            Ok(WindowResponse(SendWrapper::new(response)))
        })
    }

    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (
                impl futures::Stream<Item = Result<Bytes, Bytes>> + Send + 'static,
                impl futures::Sink<Bytes> + Send + 'static,
            ),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, IS, OS>>::spawn(future)
    }
}

/// A call on its way: a `fetch` request.
pub struct WindowRequest(SendWrapper<Request>);

impl WindowRequest {
    fn new<E: FromServerFnError>(
        method: Method,
        path_and_query: &str,
        content_type: &str,
        accepts: &str,
        body: Option<wasm_bindgen::JsValue>,
    ) -> Result<Self, E> {
        let url = format!("{}{path_and_query}", get_server_url());
        let builder = match method {
            Method::GET => Request::get(&url),
            Method::POST => Request::post(&url),
            Method::PUT => Request::put(&url),
            Method::PATCH => Request::patch(&url),
            Method::DELETE => Request::delete(&url),
            other => {
                return Err(E::from_server_fn_error(ServerFnErrorErr::UnsupportedRequestMethod(other.to_string())))
            }
        };
        let mut builder = builder.header("Content-Type", content_type).header("Accept", accepts);
        if let Some(token) = embed_token() {
            builder = builder.header(TOKEN_HEADER, &token);
        }
        let request = match body {
            Some(body) => builder.body(body),
            None => builder.build(),
        };
        request
            .map(|request| WindowRequest(SendWrapper::new(request)))
            .map_err(|e| E::from_server_fn_error(ServerFnErrorErr::Request(e.to_string())))
    }
}

/// A body the window never sends.
fn not_sent<E: FromServerFnError, T>(what: &str) -> Result<T, E> {
    Err(E::from_server_fn_error(ServerFnErrorErr::Request(format!("the window does not send {what}"))))
}

impl<E: FromServerFnError> ClientReq<E> for WindowRequest {
    type FormData = ();

    fn try_new_req_query(
        path: &str,
        content_type: &str,
        accepts: &str,
        query: &str,
        method: Method,
    ) -> Result<Self, E> {
        Self::new(method, &format!("{path}?{query}"), content_type, accepts, None)
    }

    fn try_new_req_text(
        path: &str,
        content_type: &str,
        accepts: &str,
        body: String,
        method: Method,
    ) -> Result<Self, E> {
        Self::new(method, path, content_type, accepts, Some(body.into()))
    }

    /// JSON arguments come this way.
    fn try_new_req_bytes(
        path: &str,
        content_type: &str,
        accepts: &str,
        body: Bytes,
        method: Method,
    ) -> Result<Self, E> {
        Self::new(method, path, content_type, accepts, Some(js_sys::Uint8Array::from(&body[..]).into()))
    }

    fn try_new_req_form_data(_: &str, _: &str, _: &str, _: (), _: Method) -> Result<Self, E> {
        not_sent("forms")
    }

    fn try_new_req_multipart(_: &str, _: &str, _: (), _: Method) -> Result<Self, E> {
        not_sent("multipart bodies")
    }

    fn try_new_req_streaming(
        _: &str,
        _: &str,
        _: &str,
        _: impl futures::Stream<Item = Bytes> + Send + 'static,
        _: Method,
    ) -> Result<Self, E> {
        not_sent("streams")
    }
}

/// A call's answer: a `fetch` response.
pub struct WindowResponse(SendWrapper<Response>);

impl<E: FromServerFnError> ClientRes<E> for WindowResponse {
    fn try_into_string(self) -> impl Future<Output = Result<String, E>> + Send {
        SendWrapper::new(async move {
            self.0.text().await.map_err(|e| ServerFnErrorErr::Deserialization(e.to_string()).into_app_error())
        })
    }

    fn try_into_bytes(self) -> impl Future<Output = Result<Bytes, E>> + Send {
        SendWrapper::new(async move {
            self.0
                .binary()
                .await
                .map(Bytes::from)
                .map_err(|e| ServerFnErrorErr::Deserialization(e.to_string()).into_app_error())
        })
    }

    fn try_into_stream(self) -> Result<impl futures::Stream<Item = Result<Bytes, Bytes>> + Send + 'static, E> {
        Err::<futures::stream::Empty<Result<Bytes, Bytes>>, E>(E::from_server_fn_error(ServerFnErrorErr::Response(
            "the window reads no streamed answers".into(),
        )))
    }

    fn status(&self) -> u16 {
        self.0.status()
    }

    fn status_text(&self) -> String {
        self.0.status_text()
    }

    fn location(&self) -> String {
        self.0.headers().get("Location").unwrap_or_else(|| self.0.url())
    }

    fn has_redirect(&self) -> bool {
        self.0.headers().get(REDIRECT_HEADER).is_some()
    }
}
