//! The client side of tlog-witness: one `add-checkpoint` POST over HTTP/1.1 (hyper), with
//! a timeout covering connect, request and answer.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// The most bytes of a witness's answer read (a few signature lines).
const MAX_ANSWER: usize = 64 * 1024;

/// A witness's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Body.
    pub body: Vec<u8>,
}

/// Splits `http://host:port[/prefix]` into the authority and the path prefix. Only plain
/// `http` is spoken (a witness off this host sits behind a TLS proxy).
pub fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("witness URL {url:?} must start with http://"))?;
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(format!("witness URL {url:?} has no host"));
    }
    Ok((authority.to_string(), prefix.to_string()))
}

/// POSTs `body` to `<url>/add-checkpoint` and returns the answer, within `timeout`.
pub async fn add_checkpoint(url: &str, body: Vec<u8>, timeout: Duration) -> Result<Answer, String> {
    let (authority, prefix) = split_url(url)?;
    let work = async {
        let stream = tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("{authority}: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::post(format!("{prefix}/add-checkpoint"))
            .header(hyper::header::HOST, &authority)
            .header(hyper::header::CONTENT_TYPE, "text/plain")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("{authority}: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("{authority}: {e}"))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("{authority}: answer: {e}"))?
            .to_bytes()
            .to_vec();
        Ok(Answer {
            status,
            content_type,
            body,
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("{authority}: no answer within {timeout:?}"))?
}
