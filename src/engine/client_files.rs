//! socket.io's `serveClient`: the client bundles from the installed socket.io-client's `dist/`,
//! with the client version as a quoted `ETag` (304 when the browser has it) and compression.

use std::borrow::Cow;

use bytes::Bytes;

use super::compression;
use super::request::RequestInfo;
use super::server::{EngineInner, HttpResponse};

/// The names socket.io serves: `socket.io(.msgpack|.esm)?(.min)?.js(.map)?`.
pub fn is_bundle(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("socket.io") else {
        return false;
    };
    let rest = rest
        .strip_prefix(".msgpack")
        .or_else(|| rest.strip_prefix(".esm"))
        .unwrap_or(rest);
    let rest = rest.strip_prefix(".min").unwrap_or(rest);
    matches!(rest, ".js" | ".js.map")
}

pub async fn serve(engine: &EngineInner, name: &str, request: &RequestInfo) -> HttpResponse {
    let Some(files) = &engine.config.client_files else {
        return HttpResponse::status(404, "Not Found");
    };
    let etag = files.etag.as_str();
    if let Some(sent) = request.header("if-none-match") {
        if sent == etag || sent.strip_prefix("W/") == Some(etag) {
            return HttpResponse {
                headers: Vec::new(),
                ..HttpResponse::status(304, "")
            };
        }
    }
    let Ok(content) = tokio::fs::read(files.dir.join(name)).await else {
        return HttpResponse::status(404, "Not Found");
    };
    let kind = if name.ends_with(".map") {
        "json"
    } else {
        "javascript"
    };
    let mut headers = vec![
        (
            Cow::Borrowed("Cache-Control"),
            "public, max-age=0".to_owned(),
        ),
        (
            Cow::Borrowed("Content-Type"),
            format!("application/{kind}; charset=utf-8"),
        ),
        (Cow::Borrowed("ETag"), etag.to_owned()),
    ];
    let body = match compression::negotiate(request.header("accept-encoding")) {
        Some(encoding) => {
            headers.push((Cow::Borrowed("Content-Encoding"), encoding.name().into()));
            encoding.compress(&content)
        }
        None => content,
    };
    HttpResponse {
        status: 200,
        headers,
        body: Bytes::from(body),
        from_transport: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_names_are_socket_io_s() {
        for name in [
            "socket.io.js",
            "socket.io.min.js",
            "socket.io.esm.min.js",
            "socket.io.msgpack.min.js.map",
            "socket.io.js.map",
        ] {
            assert!(is_bundle(name), "{name}");
        }
        for name in [
            "socket.io",
            "socket.io.min.jsx",
            "engine.io.js",
            "../socket.io.js",
        ] {
            assert!(!is_bundle(name), "{name}");
        }
    }
}
