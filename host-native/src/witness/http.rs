//! The witness over HTTP/1.1 (hyper): `POST /add-checkpoint` and the monitoring
//! `GET /<origin hash>/checkpoint`. Bodies are limited to
//! [`evident_core::witness::MAX_REQUEST_LEN`] bytes (413 beyond), request headers must arrive
//! within 10 s, and each request's state update runs on the blocking pool (it fsyncs).

use super::{now_secs, Witness, WitnessError};
use http_body_util::Full;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

fn answer(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(
    witness: Arc<Witness>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if method == Method::GET {
        if let Some(hash) = path
            .strip_prefix('/')
            .and_then(|p| p.strip_suffix("/checkpoint"))
        {
            let w = witness.clone();
            let hash = hash.to_string();
            let got = tokio::task::spawn_blocking(move || w.latest(&hash)).await;
            return Ok(match got {
                Ok(Ok(Some(note))) => answer(200, "text/plain; charset=utf-8", note),
                Ok(Ok(None)) => answer(404, "text/plain", "no checkpoint cosigned for that log\n"),
                Ok(Err(e)) => answer(500, "text/plain", format!("{e}\n")),
                Err(_) => answer(500, "text/plain", "internal error\n"),
            });
        }
        return Ok(answer(404, "text/plain", "not found\n"));
    }
    if path != "/add-checkpoint" {
        return Ok(answer(404, "text/plain", "not found\n"));
    }
    if method != Method::POST {
        return Ok(answer(405, "text/plain", "add-checkpoint takes POST\n"));
    }
    let limit = evident_core::witness::MAX_REQUEST_LEN;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let status = if e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                413
            } else {
                400
            };
            eprintln!("evident witness: add-checkpoint: {status}: body refused: {e}");
            return Ok(answer(
                status,
                "text/plain",
                format!("request body refused (limit {limit} bytes): {e}\n"),
            ));
        }
    };
    let w = witness.clone();
    let result = tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now_secs())).await;
    Ok(match result {
        Ok(Ok(cosignature)) => {
            eprintln!("evident witness: add-checkpoint: 200 cosigned");
            answer(200, "text/plain; charset=utf-8", cosignature)
        }
        Ok(Err(WitnessError::Refused(r))) => {
            eprintln!("evident witness: add-checkpoint: {r}");
            let ct = if r.known_size.is_some() {
                "text/x.tlog.size"
            } else {
                "text/plain; charset=utf-8"
            };
            answer(r.status, ct, r.body())
        }
        Ok(Err(e @ WitnessError::State(_))) => {
            eprintln!("evident witness: add-checkpoint: {e}");
            answer(500, "text/plain", format!("{e}\n"))
        }
        Err(_) => answer(500, "text/plain", "internal error\n"),
    })
}

/// Serves `witness` on `listener` until the task is dropped.
pub async fn serve(witness: Arc<Witness>, listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of descriptors and the like: wait a little rather than spin.
                eprintln!("evident witness: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let w = witness.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(w.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            let _ = conn.await;
        });
    }
}
