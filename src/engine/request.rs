//! What the engine needs to know of an HTTP request, whoever parsed it (hyper or Node).

use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::percent_decode_str;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Options,
    Other,
}

impl Method {
    pub fn parse(method: &str) -> Self {
        match method {
            "GET" => Self::Get,
            "POST" => Self::Post,
            "OPTIONS" => Self::Options,
            _ => Self::Other,
        }
    }
}

/// The request that opened a session, kept for `socket.handshake` and `socket.request`.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub method: String,
    /// Path and query, as received.
    pub url: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub remote_address: String,
    pub secure: bool,
    /// Milliseconds since the Unix epoch.
    pub issued: u64,
}

impl RequestInfo {
    pub fn new(
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        remote_address: String,
        secure: bool,
    ) -> Self {
        let issued = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self {
            method,
            url,
            headers,
            remote_address,
            secure,
            issued,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or("")
    }

    pub fn query(&self) -> Query {
        Query::parse(self.url.split_once('?').map(|(_, q)| q).unwrap_or(""))
    }

    /// `{"headers":{…},"query":{…},"address":…,"secure":…,"issued":…,"url":…,"method":…}` for JS;
    /// repeated headers are joined with ", " as Node does.
    pub fn to_json(&self) -> String {
        let mut headers = serde_json::Map::new();
        for (name, value) in &self.headers {
            let joined = match headers.get(name).and_then(|v| v.as_str()) {
                Some(previous) => format!("{previous}, {value}"),
                None => value.clone(),
            };
            headers.insert(name.clone(), joined.into());
        }
        let query: serde_json::Map<_, _> = self
            .query()
            .0
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect();
        serde_json::json!({
            "headers": headers,
            "query": query,
            "address": self.remote_address,
            "secure": self.secure,
            "issued": self.issued,
            "url": self.url,
            "method": self.method,
        })
        .to_string()
    }
}

/// A decoded query string; the last value of a repeated key wins when read with `get`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(query: &str) -> Self {
        let decode = |s: &str| {
            let spaced = s.replace('+', " ");
            percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
        };
        Self(
            query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| match pair.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(pair), String::new()),
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_query() {
        let q = Query::parse("EIO=4&transport=polling&t=N8&name=a%20b+c&flag&EIO=3");
        assert_eq!(q.get("transport"), Some("polling"));
        assert_eq!(q.get("name"), Some("a b c"));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(q.get("EIO"), Some("3"));
        assert_eq!(q.get("missing"), None);
    }

    #[test]
    fn serialises_for_js() {
        let r = RequestInfo::new(
            "GET".into(),
            "/socket.io/?a=1".into(),
            vec![("x".into(), "1".into()), ("x".into(), "2".into())],
            "127.0.0.1".into(),
            false,
        );
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["headers"]["x"], "1, 2");
        assert_eq!(json["query"]["a"], "1");
        assert_eq!(json["address"], "127.0.0.1");
    }

    #[test]
    fn splits_path_and_query() {
        let r = RequestInfo::new(
            "GET".into(),
            "/socket.io/?EIO=4".into(),
            vec![],
            String::new(),
            false,
        );
        assert_eq!(r.path(), "/socket.io/");
        assert_eq!(r.query().get("EIO"), Some("4"));
    }
}
