//! Signed raw S3 requests (SigV4 by object_store's signer) for what the archive needs no call
//! for: creating an Object Lock bucket with a default retention, and version-addressed
//! deletes and reads.
#![allow(dead_code)]

use super::{Seaweed, ACCESS_KEY, SECRET_KEY};
use object_store::aws::{AwsAuthorizer, AwsCredential};

/// The answer to a raw request: status and body.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: http::HeaderMap,
    /// Body bytes.
    pub bytes: Vec<u8>,
    /// Body as text (lossy), for messages.
    pub body: String,
}

impl Seaweed {
    /// Sends `method path?query` with `headers` and `body`, signed with the test credentials.
    pub fn signed(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let url = format!("{}{path_and_query}", self.endpoint());
        let mut b = http::Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut req: object_store::client::HttpRequest = b
            .body(object_store::client::HttpRequestBody::from(body.to_vec()))
            .unwrap();
        let cred = AwsCredential {
            key_id: ACCESS_KEY.to_string(),
            secret_key: SECRET_KEY.to_string(),
            token: None,
        };
        AwsAuthorizer::new(&cred, "s3", "us-east-1")
            .try_authorize(&mut req, None)
            .unwrap();
        let (parts, _) = req.into_parts();
        let body = body.to_vec();
        std::thread::scope(|s| {
            s.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let _ = rustls::crypto::ring::default_provider().install_default();
                    let client = reqwest::Client::new();
                    let mut r = client.request(parts.method, url);
                    for (k, v) in parts.headers.iter() {
                        r = r.header(k, v);
                    }
                    let resp = r.body(body).send().await.unwrap();
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let bytes = resp.bytes().await.unwrap().to_vec();
                    Answer {
                        status,
                        headers,
                        body: String::from_utf8_lossy(&bytes).into_owned(),
                        bytes,
                    }
                })
            })
            .join()
            .unwrap()
        })
    }

    /// Creates `bucket` with Object Lock enabled and a default retention of COMPLIANCE for
    /// `days`.
    pub fn create_locked_bucket(&self, bucket: &str, days: u32) {
        let a = self.signed(
            "PUT",
            &format!("/{bucket}"),
            &[("x-amz-bucket-object-lock-enabled", "true")],
            b"",
        );
        assert!(a.status < 300, "create bucket: {} {}", a.status, a.body);
        let xml = format!(
            "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>{days}</Days></DefaultRetention></Rule></ObjectLockConfiguration>"
        );
        let a = self.signed(
            "PUT",
            &format!("/{bucket}?object-lock"),
            &[("content-type", "application/xml")],
            xml.as_bytes(),
        );
        assert!(
            a.status < 300,
            "object lock configuration: {} {}",
            a.status,
            a.body
        );
        let a = self.signed("GET", &format!("/{bucket}?object-lock"), &[], b"");
        assert!(
            a.status == 200 && a.body.contains("COMPLIANCE"),
            "object lock configuration read back: {} {}",
            a.status,
            a.body
        );
    }
}
