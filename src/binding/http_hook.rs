//! The HTTP hooks in JS (a function or RegExp CORS origin, `initial_headers` / `headers`
//! listeners) asked through `Questions`, and `connection_error` reported through the event
//! batch. JS says which parts it wants, so nothing crosses for the others.
//!
//! Questions are JSON: `{"kind":"cors","request":…}` is answered with the resolved CORS
//! options as JSON, `null` (no CORS headers) or `""` (the user's function failed);
//! `{"kind":"headers","request":…,"headers":[[name,value],…],"initial":bool}` with the
//! edited `[[name,value],…]`.

use std::borrow::Cow;
use std::sync::Arc;

use crate::engine::cors::Cors;
use crate::engine::error::Refusal;
use crate::engine::http::HttpHook;
use crate::engine::request::RequestInfo;
use crate::engine::server::{BoxFuture, Header};
use crate::protocol::event::{ProtocolEvent, Upstream};

use super::events::EventQueue;
use super::questions::Questions;

pub struct HttpHooks {
    /// None when JS wants no answers (only `connection_error` reports).
    pub questions: Option<Questions<String>>,
    pub events: Arc<EventQueue>,
    pub cors: bool,
    pub headers: bool,
    pub connection_error: bool,
}

impl HttpHook for HttpHooks {
    fn cors(&self, request: &RequestInfo) -> BoxFuture<Result<Option<Cors>, ()>> {
        let Some(questions) = self.questions.as_ref().filter(|_| self.cors) else {
            return Box::pin(async { Ok(None) });
        };
        let answer = questions.ask(format!(
            "{{\"kind\":\"cors\",\"request\":{}}}",
            request.to_json()
        ));
        Box::pin(async move {
            match answer.await.as_deref() {
                // No answer in time: as if the origin function had failed.
                None | Some("") => Err(()),
                Some(json) => serde_json::from_str::<Option<Cors>>(json).map_err(|_| ()),
            }
        })
    }

    fn headers(
        &self,
        request: &RequestInfo,
        headers: &[Header],
        initial: bool,
    ) -> Option<BoxFuture<Vec<Header>>> {
        let questions = self.questions.as_ref().filter(|_| self.headers)?;
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (name.as_ref(), value.as_str()))
            .collect();
        let json = format!(
            "{{\"kind\":\"headers\",\"request\":{},\"headers\":{},\"initial\":{initial}}}",
            request.to_json(),
            serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into()),
        );
        let answer = questions.ask(json);
        let unchanged = headers.to_vec();
        Some(Box::pin(async move {
            answer
                .await
                .and_then(|json| serde_json::from_str::<Vec<(String, String)>>(&json).ok())
                .map(|pairs| {
                    pairs
                        .into_iter()
                        .map(|(name, value)| (Cow::Owned(name), value))
                        .collect()
                })
                .unwrap_or(unchanged)
        }))
    }

    fn refused(&self, request: &RequestInfo, refusal: &Refusal) {
        if self.connection_error {
            self.events.push(ProtocolEvent::ConnectionError {
                code: refusal.error.code(),
                message: refusal.error.message().to_owned(),
                context: refusal.context.to_string(),
                request: request.to_json(),
            });
        }
    }
}
