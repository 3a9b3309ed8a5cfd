//! A minimal HTTP/1.1 GET over plain TCP, on the hyper client already in the build: what the
//! JWKS fetch (`auth.jwks_url`) and `ooloi-server health` (the container's health check, which
//! has no curl in a distroless image) need, and nothing more. The body is read up to a bound so
//! a misbehaving peer cannot make the caller buffer without limit; the caller bounds the time.

use http::{StatusCode, Uri};
use hyper::body::Body as _;

/// GETs `url` (an `http://` URL) with the `Accept` header `accept`; returns the status and at
/// most `max_bytes` of the body (an error if the body is longer).
pub async fn get(
    url: &Uri,
    accept: &str,
    max_bytes: usize,
) -> Result<(StatusCode, Vec<u8>), String> {
    // An IPv6 literal is `[::1]` in a URL and `::1` to connect to.
    let host = url
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = url.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("connecting to {url}: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("{url}: {e}"))?;
    let driver = tokio::spawn(connection);
    let outcome = async {
        let authority = url.authority().map_or(host.to_owned(), |a| a.to_string());
        let request = http::Request::get(url.path_and_query().map_or("/", |p| p.as_str()))
            .header(http::header::HOST, authority)
            .header(http::header::ACCEPT, accept)
            .body(String::new())
            .map_err(|e| format!("{url}: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|e| format!("{url}: {e}"))?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > max_bytes {
                    return Err(format!(
                        "{url}: the answer is larger than {max_bytes} bytes"
                    ));
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok((status, bytes))
    }
    .await;
    driver.abort();
    outcome
}
