//! CORS, with the option shape and the answers of the `cors` npm package that engine.io uses:
//! preflight `OPTIONS` requests are answered here, other requests get the headers added.
//! JS has already applied the package's defaults and resolved whatever needs user code (a
//! function or a RegExp origin) into the plain form below.

use serde::Deserialize;

use super::request::RequestInfo;

/// `origin` once resolved: `"*"`, one fixed origin, a list to reflect from, or reflect any.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Origin {
    /// `true` reflects the request's origin; `false` adds no CORS header at all.
    Reflect(bool),
    /// `"*"`, or a fixed origin sent whatever the request's origin is.
    Fixed(String),
    /// The request's origin is reflected when it is in the list.
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cors {
    pub origin: Origin,
    #[serde(default)]
    pub credentials: bool,
    /// Joined with `,`.
    pub methods: String,
    pub allowed_headers: Option<String>,
    pub exposed_headers: Option<String>,
    pub max_age: Option<String>,
    pub options_success_status: u16,
    #[serde(default)]
    pub preflight_continue: bool,
}

pub type Header = (&'static str, String);

/// What CORS makes of a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Go on to the engine, adding these headers to its answer.
    Continue(Vec<Header>),
    /// A preflight, answered with this status and these headers (and an empty body).
    Preflight(u16, Vec<Header>),
}

impl Cors {
    pub fn apply(&self, preflight: bool, request: &RequestInfo) -> Outcome {
        let mut headers = Vec::with_capacity(6);
        let mut vary: Vec<&str> = Vec::new();
        let request_origin = request.header("origin");
        match &self.origin {
            Origin::Reflect(false) => return Outcome::Continue(headers),
            Origin::Fixed(any) if any == "*" => {
                headers.push(("Access-Control-Allow-Origin", "*".to_owned()))
            }
            Origin::Fixed(origin) => {
                headers.push(("Access-Control-Allow-Origin", origin.clone()));
                vary.push("Origin");
            }
            Origin::Reflect(true) | Origin::List(_) => {
                let allowed = match &self.origin {
                    Origin::List(list) => {
                        request_origin.is_some_and(|o| list.iter().any(|a| a == o))
                    }
                    _ => true,
                };
                if let Some(origin) = request_origin.filter(|o| allowed && !o.is_empty()) {
                    headers.push(("Access-Control-Allow-Origin", origin.to_owned()));
                }
                vary.push("Origin");
            }
        }
        if self.credentials {
            headers.push(("Access-Control-Allow-Credentials", "true".to_owned()));
        }
        if preflight {
            if !self.methods.is_empty() {
                headers.push(("Access-Control-Allow-Methods", self.methods.clone()));
            }
            let allowed_headers = match &self.allowed_headers {
                Some(list) => Some(list.as_str()),
                None => {
                    vary.push("Access-Control-Request-Headers");
                    request.header("access-control-request-headers")
                }
            };
            if let Some(list) = allowed_headers.filter(|l| !l.is_empty()) {
                headers.push(("Access-Control-Allow-Headers", list.to_owned()));
            }
            if let Some(max_age) = self.max_age.as_ref().filter(|m| !m.is_empty()) {
                headers.push(("Access-Control-Max-Age", max_age.clone()));
            }
        }
        if let Some(exposed) = self.exposed_headers.as_ref().filter(|e| !e.is_empty()) {
            headers.push(("Access-Control-Expose-Headers", exposed.clone()));
        }
        if !vary.is_empty() {
            headers.push(("Vary", vary.join(", ")));
        }
        if preflight && !self.preflight_continue {
            return Outcome::Preflight(self.options_success_status, headers);
        }
        Outcome::Continue(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(json: &str) -> Cors {
        serde_json::from_str(json).unwrap()
    }

    fn request(headers: &[(&str, &str)]) -> RequestInfo {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RequestInfo::new(
            "GET".into(),
            "/socket.io/".into(),
            headers,
            String::new(),
            false,
        )
    }

    const BASE: &str = r#""methods":"GET,POST","optionsSuccessStatus":204"#;

    #[test]
    fn a_list_reflects_only_its_origins_and_always_varies() {
        let c = cors(&format!(
            r#"{{"origin":["http://a.com"],"credentials":true,{BASE}}}"#
        ));
        let allowed = c.apply(false, &request(&[("origin", "http://a.com")]));
        assert_eq!(
            allowed,
            Outcome::Continue(vec![
                ("Access-Control-Allow-Origin", "http://a.com".into()),
                ("Access-Control-Allow-Credentials", "true".into()),
                ("Vary", "Origin".into()),
            ])
        );
        let other = c.apply(false, &request(&[("origin", "http://b.com")]));
        assert_eq!(
            other,
            Outcome::Continue(vec![
                ("Access-Control-Allow-Credentials", "true".into()),
                ("Vary", "Origin".into()),
            ])
        );
    }

    #[test]
    fn preflight_reflects_requested_headers_unless_configured() {
        let c = cors(&format!(r#"{{"origin":"*",{BASE},"maxAge":"600"}}"#));
        let req = request(&[
            ("origin", "http://a.com"),
            ("access-control-request-headers", "x-foo"),
        ]);
        assert_eq!(
            c.apply(true, &req),
            Outcome::Preflight(
                204,
                vec![
                    ("Access-Control-Allow-Origin", "*".into()),
                    ("Access-Control-Allow-Methods", "GET,POST".into()),
                    ("Access-Control-Allow-Headers", "x-foo".into()),
                    ("Access-Control-Max-Age", "600".into()),
                    ("Vary", "Access-Control-Request-Headers".into()),
                ]
            )
        );
        let fixed = cors(&format!(
            r#"{{"origin":"http://x.com","allowedHeaders":"a,b","exposedHeaders":"c",{BASE}}}"#
        ));
        let Outcome::Preflight(_, headers) = fixed.apply(true, &req) else {
            panic!("not a preflight");
        };
        assert!(headers.contains(&("Access-Control-Allow-Origin", "http://x.com".into())));
        assert!(headers.contains(&("Access-Control-Allow-Headers", "a,b".into())));
        assert!(headers.contains(&("Access-Control-Expose-Headers", "c".into())));
        assert!(headers.contains(&("Vary", "Origin".into())));
    }

    #[test]
    fn false_origin_adds_nothing() {
        let c = cors(&format!(r#"{{"origin":false,{BASE}}}"#));
        assert_eq!(
            c.apply(true, &request(&[("origin", "http://a.com")])),
            Outcome::Continue(vec![])
        );
    }
}
