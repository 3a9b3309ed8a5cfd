//! Which form a health endpoint answers in (reference section 5.7): `?format=prom` or
//! `?format=json` decides outright; otherwise an `Accept` naming `text/plain` or
//! `application/openmetrics-text`, or a `User-Agent` of `Prometheus/...`, asks for Prometheus
//! text; anything else gets JSON.

use http::HeaderMap;
use http::header::{ACCEPT, USER_AGENT};

/// The answer's form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Prometheus,
}

/// A `format` query parameter other than `prom` or `json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat;

/// The form `query` (the raw query string, if any) and `headers` ask for.
pub fn negotiate(query: Option<&str>, headers: &HeaderMap) -> Result<Format, UnknownFormat> {
    let requested = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.strip_prefix("format="))
        .next_back();
    match requested {
        Some("prom") => return Ok(Format::Prometheus),
        Some("json") => return Ok(Format::Json),
        Some(_) => return Err(UnknownFormat),
        None => {}
    }
    let header = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
    };
    let wants_text = header(ACCEPT).iter().any(|accept| {
        accept.split(',').any(|range| {
            let media = range.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("text/plain")
                || media.eq_ignore_ascii_case("application/openmetrics-text")
        })
    });
    let is_prometheus = header(USER_AGENT)
        .iter()
        .any(|agent| agent.starts_with("Prometheus/"));
    Ok(if wants_text || is_prometheus {
        Format::Prometheus
    } else {
        Format::Json
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn json_unless_something_asks_for_text() {
        assert_eq!(negotiate(None, &HeaderMap::new()), Ok(Format::Json));
        assert_eq!(
            negotiate(
                None,
                &headers(&[("accept", "*/*"), ("user-agent", "curl/8")])
            ),
            Ok(Format::Json)
        );
        assert_eq!(
            negotiate(None, &headers(&[("accept", "application/json")])),
            Ok(Format::Json)
        );
    }

    #[test]
    fn accept_or_a_prometheus_user_agent_asks_for_text() {
        assert_eq!(
            negotiate(None, &headers(&[("accept", "text/plain")])),
            Ok(Format::Prometheus)
        );
        let scrape = "application/openmetrics-text;version=1.0.0,\
                      text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(
            negotiate(None, &headers(&[("accept", scrape)])),
            Ok(Format::Prometheus)
        );
        assert_eq!(
            negotiate(None, &headers(&[("user-agent", "Prometheus/2.53.0")])),
            Ok(Format::Prometheus)
        );
        assert_eq!(
            negotiate(None, &headers(&[("accept", "text/plainx")])),
            Ok(Format::Json),
            "a media type is matched whole"
        );
    }

    #[test]
    fn the_query_overrides_everything() {
        let prom = headers(&[("accept", "text/plain"), ("user-agent", "Prometheus/3")]);
        assert_eq!(negotiate(Some("format=json"), &prom), Ok(Format::Json));
        assert_eq!(
            negotiate(Some("a=1&format=prom"), &HeaderMap::new()),
            Ok(Format::Prometheus)
        );
        assert_eq!(
            negotiate(Some("format=xml"), &HeaderMap::new()),
            Err(UnknownFormat)
        );
        assert_eq!(
            negotiate(Some("informat=prom"), &HeaderMap::new()),
            Ok(Format::Json)
        );
    }
}
