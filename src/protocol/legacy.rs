//! What socket.io protocol v4 (socket.io-client 2.x, over engine.io revision 3) does differently
//! from v5: the client is put in `/` on its own, a CONNECT names its namespace with a query
//! string (which becomes the socket's `auth`), and socket ids are derived from the engine id.
//! The other differences are in the payloads JS builds (a CONNECT ack without a body, errors as
//! plain strings).

use super::Id;

/// A namespace as sent by a v4 client (`/chat?token=1`), read as socket.io does with `new URL`:
/// the path and the query string.
pub fn split_namespace(nsp: &str) -> (&str, &str) {
    let path_end = nsp.find(['?', '#']).unwrap_or(nsp.len());
    let query = nsp[path_end..]
        .strip_prefix('?')
        .map(|rest| rest.split('#').next().unwrap_or(""))
        .unwrap_or("");
    (&nsp[..path_end], query)
}

/// The query string of a CONNECT as the socket's auth: a JSON object, where the last value of a
/// repeated key wins (`Object.fromEntries(url.searchParams)`).
pub fn auth_from_query(query: &str) -> String {
    let mut entries: Vec<(String, String)> = Vec::new();
    for (key, value) in crate::engine::request::Query::parse(query).0 {
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key, value)),
        }
    }
    let fields: Vec<String> = entries
        .iter()
        .map(|(k, v)| {
            let key = serde_json::to_string(k).unwrap_or_default();
            let value = serde_json::to_string(v).unwrap_or_default();
            format!("{key}:{value}")
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// socket.io 4 gives a v4 client's sockets the engine id in `/` and `<nsp>#<engine id>` elsewhere.
pub fn socket_id(nsp: &str, engine_id: &str) -> Id {
    if nsp == "/" {
        Id::from(engine_id)
    } else {
        Id::from(format!("{nsp}#{engine_id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_query_off_the_namespace() {
        assert_eq!(split_namespace("/chat?token=1"), ("/chat", "token=1"));
        assert_eq!(split_namespace("/"), ("/", ""));
        assert_eq!(split_namespace("/a#b?c=1"), ("/a", ""));
        assert_eq!(split_namespace("/a?c=1#d"), ("/a", "c=1"));
    }

    #[test]
    fn reads_the_query_as_an_object() {
        assert_eq!(
            auth_from_query("token=a%20b&x=1&y&x=2"),
            r#"{"token":"a b","x":"2","y":""}"#
        );
        assert_eq!(auth_from_query(""), "{}");
    }

    #[test]
    fn socket_ids_come_from_the_engine_id() {
        assert_eq!(&*socket_id("/", "abc"), "abc");
        assert_eq!(&*socket_id("/chat", "abc"), "/chat#abc");
    }
}
