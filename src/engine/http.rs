//! The HTTP layer around the engine's answers, in engine.io's order: CORS first (a preflight is
//! answered there), then the engine's checks and the transport's answer, which gets its own
//! headers (`no-store`, the session cookie on a handshake), compression, and whatever the user's
//! `initial_headers` / `headers` listeners make of its headers.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;

use super::client_files;
use super::compression;
use super::config::CorsPolicy;
use super::cors::{self, Cors, Outcome};
use super::error::{EngineError, Refusal};
use super::frame::Frame;
use super::polling;
use super::request::{Method, RequestInfo};
use super::server::{BoxFuture, EngineInner, Header, HttpResponse, Target};
use super::session::Transport;

/// What user code in JS decides about HTTP requests. Each part is asked only when JS said it
/// is wanted (a dynamic CORS origin, a header listener, a `connection_error` listener).
pub trait HttpHook: Send + Sync {
    /// The CORS options for this request, from a function or RegExp origin: None adds no CORS
    /// header; Err means the user's function failed (engine.io then refuses with 400).
    fn cors(&self, request: &RequestInfo) -> BoxFuture<Result<Option<Cors>, ()>>;
    /// Lets `initial_headers` (on a handshake) and `headers` listeners change the headers of an
    /// answer; None when nobody listens.
    fn headers(
        &self,
        request: &RequestInfo,
        headers: &[Header],
        initial: bool,
    ) -> Option<BoxFuture<Vec<Header>>>;
    /// Tells `connection_error` listeners about a refused request.
    fn refused(&self, request: &RequestInfo, refusal: &Refusal);
}

/// What a URL under the server is for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    Engine,
    /// One of socket.io-client's bundles, by file name.
    ClientFile(&'a str),
    Elsewhere,
}

impl EngineInner {
    /// Matches a path as socket.io does: its client bundles first, then engine.io's prefix.
    pub fn route<'a>(&self, path: &'a str) -> Route<'a> {
        if self.config.client_files.is_some() {
            if let Some(name) = path
                .strip_prefix(self.config.path.trim_end_matches('/'))
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|name| client_files::is_bundle(name))
            {
                return Route::ClientFile(name);
            }
        }
        if path.starts_with(self.config.path.as_str()) {
            Route::Engine
        } else {
            Route::Elsewhere
        }
    }

    /// Answers any HTTP request that is not a websocket upgrade.
    pub async fn serve_http(self: &Arc<Self>, request: RequestInfo, body: Bytes) -> HttpResponse {
        let route = self.route(request.path());
        if route == Route::Elsewhere {
            return HttpResponse::status(404, "Not Found");
        }
        let method = Method::parse(&request.method);
        let cors = match self.cors(&request, method == Method::Options).await {
            Ok(Outcome::Continue(headers)) => headers,
            Ok(Outcome::Preflight(status, headers)) => {
                return HttpResponse {
                    status,
                    headers: owned(headers),
                    body: Bytes::new(),
                    from_transport: false,
                }
            }
            Err(refusal) => return self.refuse(&request, &refusal, Vec::new()),
        };
        let mut response = match route {
            Route::ClientFile(name) => client_files::serve(self, name, &request).await,
            _ => match self.answer(method, &request, body).await {
                Ok((mut response, handshake)) => {
                    if response.from_transport {
                        self.transport_headers(&mut response, &request, handshake)
                            .await;
                    }
                    response
                }
                Err(refusal) => return self.refuse(&request, &refusal, cors),
            },
        };
        under(&mut response.headers, cors);
        response
    }

    /// The CORS headers of a websocket upgrade (the 101 carries them).
    pub async fn upgrade_cors(&self, request: &RequestInfo) -> Result<Vec<Header>, Refusal> {
        Ok(match self.cors(request, false).await? {
            Outcome::Continue(headers) | Outcome::Preflight(_, headers) => owned(headers),
        })
    }

    /// What the header listeners make of `headers` (unchanged when nobody listens).
    pub async fn edit_headers(
        &self,
        request: &RequestInfo,
        headers: Vec<Header>,
        initial: bool,
    ) -> Vec<Header> {
        match self
            .hook()
            .and_then(|hook| hook.headers(request, &headers, initial))
        {
            Some(edited) => edited.await,
            None => headers,
        }
    }

    /// Reports a refusal to `connection_error` listeners and builds its answer.
    pub fn refuse(
        &self,
        request: &RequestInfo,
        refusal: &Refusal,
        cors: Vec<cors::Header>,
    ) -> HttpResponse {
        if let Some(hook) = self.hook() {
            hook.refused(request, refusal);
        }
        let mut response = HttpResponse::refusal(refusal);
        under(&mut response.headers, cors);
        response
    }

    fn hook(&self) -> Option<Arc<dyn HttpHook>> {
        self.http_hook.read().clone()
    }

    async fn cors(&self, request: &RequestInfo, preflight: bool) -> Result<Outcome, Refusal> {
        let resolved;
        let cors = match &self.config.cors {
            CorsPolicy::Off => return Ok(Outcome::Continue(Vec::new())),
            CorsPolicy::Static(cors) => cors,
            CorsPolicy::Dynamic => {
                let Some(hook) = self.hook() else {
                    return Ok(Outcome::Continue(Vec::new()));
                };
                match hook.cors(request).await {
                    Ok(Some(cors)) => {
                        resolved = cors;
                        &resolved
                    }
                    Ok(None) => return Ok(Outcome::Continue(Vec::new())),
                    Err(()) => {
                        return Err(Refusal::with(
                            EngineError::BadRequest,
                            serde_json::json!({ "name": "MIDDLEWARE_FAILURE" }),
                        ))
                    }
                }
            }
        };
        Ok(cors.apply(preflight, request))
    }

    /// The engine's checks, then the transport's answer; also the new session's id on a
    /// handshake.
    async fn answer(
        self: &Arc<Self>,
        method: Method,
        request: &RequestInfo,
        body: Bytes,
    ) -> Result<(HttpResponse, Option<Arc<str>>), Refusal> {
        match self.verify(method, request, false)? {
            Target::Handshake => {
                let id = self.admit(request).await?;
                let session = self.handshake(Transport::Polling, request.clone(), id);
                let open = polling::respond(&session, &[Frame::text(self.open_packet(&session))]);
                Ok((open, Some(session.id.clone())))
            }
            Target::Session(session) => {
                let response = match method {
                    Method::Get => polling::poll(self, session).await,
                    Method::Post => polling::receive(self, &session, request, &body),
                    // engine.io's polling transport answers other methods with a bare 500.
                    _ => HttpResponse::status(500, ""),
                };
                Ok((response, None))
            }
        }
    }

    async fn transport_headers(
        &self,
        response: &mut HttpResponse,
        request: &RequestInfo,
        handshake: Option<Arc<str>>,
    ) {
        let headers = &mut response.headers;
        let user_agent = request.header("user-agent").unwrap_or("");
        if user_agent.contains(";MSIE") || user_agent.contains("Trident/") {
            headers.push((Cow::Borrowed("X-XSS-Protection"), "0".to_owned()));
        }
        headers.push((Cow::Borrowed("cache-control"), "no-store".to_owned()));
        if let (Some(sid), Some(cookie)) = (&handshake, &self.config.cookie) {
            let value = format!("{}={sid}{}", cookie.name, cookie.attributes);
            headers.push((Cow::Borrowed("Set-Cookie"), value));
        }
        if let Some(threshold) = self.config.compression_threshold {
            let is_poll = request.method == "GET" && handshake.is_none();
            if is_poll && response.body.len() >= threshold {
                if let Some(encoding) = compression::negotiate(request.header("accept-encoding")) {
                    response.body = Bytes::from(encoding.compress(&response.body));
                    headers.push((Cow::Borrowed("Content-Encoding"), encoding.name().into()));
                }
            }
        }
        let headers = std::mem::take(&mut response.headers);
        response.headers = self
            .edit_headers(request, headers, handshake.is_some())
            .await;
    }
}

fn owned(headers: Vec<cors::Header>) -> Vec<Header> {
    headers
        .into_iter()
        .map(|(name, value)| (Cow::Borrowed(name), value))
        .collect()
}

/// Adds headers set before the answer (CORS), which the answer's own headers override, as
/// `res.setHeader` then `res.writeHead` do in Node.
fn under(headers: &mut Vec<Header>, earlier: Vec<cors::Header>) {
    if earlier.is_empty() {
        return;
    }
    let mut merged: Vec<Header> = owned(earlier)
        .into_iter()
        .filter(|(name, _)| !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
        .collect();
    merged.append(headers);
    *headers = merged;
}
