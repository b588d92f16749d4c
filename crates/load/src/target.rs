//! The target URL and request templates with `{{seq}}` / `{{random}}` placeholders.
//!
//! Only plain `http://` is supported (the driver measures services on a test machine, usually on
//! 127.0.0.1). Templates are checked once; a template without placeholders is built once and
//! cloned per request, so the hot path does no string work.

use hyper::body::Bytes;
use hyper::header::{HOST, HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, Request, Uri};

use crate::plan::LoadError;

/// Where requests go: `host:port` of an HTTP/1.1 (or HTTP/1.0) server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `Host` header value (`host[:port]` as given).
    pub authority: String,
}

impl Target {
    /// Split `http://host[:port][/path][?query]` into the target and the path (`/` when
    /// missing).
    pub fn parse(url: &str) -> Result<(Target, String), LoadError> {
        let bad = |reason: &str| LoadError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        // The scheme is case-insensitive (RFC 3986 §3.1): `HTTP://` is `http://`.
        let scheme = |p: &str| {
            url.get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
        };
        let rest = if scheme("http://") {
            &url["http://".len()..]
        } else if scheme("https://") {
            return Err(bad(
                "https is not supported; point the load at the plain-HTTP port (127.0.0.1 in tests)",
            ));
        } else {
            return Err(bad("it must start with http://"));
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() {
            return Err(bad("the host is missing"));
        }
        if authority.contains('@') {
            return Err(bad("user info (user@host) is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6
                .find(']')
                .ok_or_else(|| bad("unclosed `[` in the host"))?;
            let host = &v6[..end];
            let port = match &v6[end + 1..] {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after `]`"))?),
            };
            (host.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("the host is missing"));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        {
            return Err(bad("the host contains characters that are not allowed"));
        }
        let port = match port {
            None => 80,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(bad("the port must be a number from 1 to 65535")),
            },
        };
        if path.parse::<Uri>().is_err() && !path.contains("{{") {
            return Err(bad("the path is not a valid URI path"));
        }
        Ok((
            Target {
                host,
                port,
                authority: authority.to_string(),
            },
            path,
        ))
    }

    /// `http://authority`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.authority)
    }
}

/// One kind of request in a load test.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTemplate {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Origin-form path with optional placeholders, e.g. `/items/{{seq}}`.
    pub path: String,
    /// Extra headers (`Host` is set from the target).
    pub headers: Vec<(String, String)>,
    /// Request body (placeholders allowed when it is UTF-8 text).
    pub body: Option<Vec<u8>>,
    /// Relative weight when several templates are given.
    pub weight: u32,
}

impl RequestTemplate {
    /// `GET path`.
    pub fn get(path: &str) -> RequestTemplate {
        RequestTemplate {
            method: "GET".into(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
            weight: 1,
        }
    }

    /// Parse and add a `Name: value` header.
    pub fn add_header(&mut self, header: &str) -> Result<(), LoadError> {
        let bad = |reason: &str| LoadError::InvalidHeader {
            header: header.to_string(),
            reason: reason.to_string(),
        };
        let (k, v) = header
            .split_once(':')
            .ok_or_else(|| bad("expected `Name: value`"))?;
        let (k, v) = (k.trim(), v.trim());
        HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad("invalid header name"))?;
        HeaderValue::from_str(v).map_err(|_| bad("invalid header value"))?;
        self.headers.push((k.to_string(), v.to_string()));
        Ok(())
    }
}

/// Placeholder for the request's sequence number (0, 1, 2… over the whole test).
pub const SEQ: &str = "{{seq}}";
/// Placeholder for a random 64-bit number in hex.
pub const RANDOM: &str = "{{random}}";

/// Replace `{{seq}}` and `{{random}}` in `s`.
pub fn expand(s: &str, seq: u64, random: &mut dyn FnMut() -> u64) -> String {
    if !s.contains("{{") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix(SEQ) {
            out.push_str(&seq.to_string());
            rest = after;
        } else if let Some(after) = tail.strip_prefix(RANDOM) {
            out.push_str(&format!("{:016x}", random()));
            rest = after;
        } else {
            out.push_str("{{");
            rest = &tail[2..];
        }
    }
    out.push_str(rest);
    out
}

/// A template checked and prepared for sending.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    body_text: Option<String>,
    dynamic: bool,
    fixed_uri: Option<Uri>,
}

impl Prepared {
    pub(crate) fn new(t: &RequestTemplate, target: &Target) -> Result<Prepared, LoadError> {
        let bad = |field: &str, reason: String| LoadError::InvalidPlan {
            field: field.to_string(),
            reason,
        };
        let method = Method::from_bytes(t.method.as_bytes())
            .map_err(|_| bad("method", format!("`{}` is not an HTTP method", t.method)))?;
        if !t.path.starts_with('/') {
            return Err(bad("path", format!("`{}` must start with /", t.path)));
        }
        let mut headers = HeaderMap::new();
        let host = HeaderValue::from_str(&target.authority)
            .map_err(|_| bad("url", "the host is not a valid Host header".into()))?;
        headers.insert(HOST, host);
        for (k, v) in &t.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| bad("headers", format!("invalid header name `{k}`")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| bad("headers", format!("invalid value of header `{k}`")))?;
            headers.append(name, value);
        }
        let body_text = t
            .body
            .as_ref()
            .and_then(|b| std::str::from_utf8(b).ok())
            .filter(|s| s.contains("{{"))
            .map(str::to_string);
        let dynamic = t.path.contains("{{") || body_text.is_some();
        let fixed_uri = if t.path.contains("{{") {
            // Check that the path is valid once the placeholders are filled in.
            let sample = expand(&t.path, 0, &mut || 0);
            sample
                .parse::<Uri>()
                .map_err(|_| bad("path", format!("`{}` is not a valid URI path", t.path)))?;
            None
        } else {
            Some(
                t.path
                    .parse::<Uri>()
                    .map_err(|_| bad("path", format!("`{}` is not a valid URI path", t.path)))?,
            )
        };
        Ok(Prepared {
            method,
            path: t.path.clone(),
            headers,
            body: Bytes::from(t.body.clone().unwrap_or_default()),
            body_text,
            dynamic,
            fixed_uri,
        })
    }

    /// Build request number `seq`.
    pub(crate) fn build(
        &self,
        seq: u64,
        random: &mut dyn FnMut() -> u64,
    ) -> Request<http_body_util::Full<Bytes>> {
        let (uri, body) = if self.dynamic {
            let uri = match &self.fixed_uri {
                Some(u) => u.clone(),
                None => expand(&self.path, seq, random)
                    .parse()
                    .unwrap_or_else(|_| Uri::from_static("/")),
            };
            let body = match &self.body_text {
                Some(b) => Bytes::from(expand(b, seq, random)),
                None => self.body.clone(),
            };
            (uri, body)
        } else {
            (
                self.fixed_uri.clone().expect("static templates have a URI"),
                self.body.clone(),
            )
        };
        let mut req = Request::new(http_body_util::Full::new(body));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = self.headers.clone();
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_target_and_path() {
        let (t, p) = Target::parse("http://127.0.0.1:8080/a/b?x=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, p.as_str()),
            ("127.0.0.1", 8080, "/a/b?x=1")
        );
        let (t, p) = Target::parse("http://localhost").unwrap();
        assert_eq!((t.port, p.as_str()), (80, "/"));
        let (t, _) = Target::parse("http://[::1]:9/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9));
        // The scheme is case-insensitive; the path is not.
        let (t, p) = Target::parse("HTTP://127.0.0.1:9/A").unwrap();
        assert_eq!((t.port, p.as_str()), (9, "/A"));
    }

    #[test]
    fn bad_urls_say_why() {
        for (u, why) in [
            ("ftp://x/", "http://"),
            ("https://x/", "https"),
            ("HTTPS://x/", "https"),
            ("http://", "host"),
            ("http://h:0/", "port"),
            ("http://h:99999/", "port"),
            ("http://h:abc/", "port"),
            ("http://a b/", "characters"),
            ("127.0.0.1:80", "http://"),
        ] {
            let e = Target::parse(u).unwrap_err().to_string();
            assert!(e.contains(why), "{u}: {e}");
        }
    }

    #[test]
    fn placeholders_expand() {
        let mut n = 0u64;
        let mut rnd = || {
            n += 1;
            n
        };
        assert_eq!(
            expand("/i/{{seq}}?r={{random}}&s={{seq}}{{x}}", 7, &mut rnd),
            "/i/7?r=0000000000000001&s=7{{x}}"
        );
    }

    #[test]
    fn headers_are_checked() {
        let mut t = RequestTemplate::get("/");
        t.add_header("X-A: 1").unwrap();
        assert_eq!(t.headers, vec![("X-A".to_string(), "1".to_string())]);
        assert!(t.add_header("nocolon").is_err());
        assert!(t.add_header("bad name: 1").is_err());
    }
}
