//! Where archives go: `s3://BUCKET/PREFIX`, the endpoint and the credentials.

use super::ArchiveError;
use object_store::aws::{AmazonS3Builder, Checksum};
use object_store::{BackoffConfig, ObjectStore, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

/// How to reach the store, besides the standard environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `AWS_ALLOW_HTTP`), which these override.
#[derive(Debug, Clone, Default)]
pub struct StoreConfig {
    /// The S3 endpoint URL (for stores other than AWS), e.g. `http://127.0.0.1:8333`.
    pub endpoint: Option<String>,
    /// Allow a plain-HTTP endpoint.
    pub allow_http: bool,
    /// Retries of one request (default 3).
    pub max_retries: Option<usize>,
    /// Give up retrying one request after this long (default 30 s).
    pub retry_timeout: Option<Duration>,
    /// Credentials given by the program (overriding the environment's).
    pub credentials: Option<Credentials>,
    /// The region (default: `AWS_REGION`, else `us-east-1`).
    pub region: Option<String>,
}

/// An access key and its secret. `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ access_key_id: {}, secret: *** }}",
            self.access_key_id
        )
    }
}

/// An archive destination: a bucket and a prefix under which each log has its folder.
#[derive(Clone)]
pub struct ArchiveTarget {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The bucket's name.
    pub bucket: String,
    /// The prefix (no leading or trailing `/`; may be empty).
    pub prefix: String,
}

impl std::fmt::Debug for ArchiveTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.url())
    }
}

/// Splits `s3://BUCKET/PREFIX` into bucket and prefix.
pub fn parse_url(url: &str) -> Result<(String, String), ArchiveError> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| ArchiveError::Config(format!("`{url}`: expected s3://BUCKET/PREFIX")))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(ArchiveError::Config(format!("`{url}`: no bucket")));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

impl ArchiveTarget {
    /// The destination `s3://BUCKET/PREFIX`, reached with `config` and the environment.
    pub fn from_url(url: &str, config: &StoreConfig) -> Result<ArchiveTarget, ArchiveError> {
        let (bucket, prefix) = parse_url(url)?;
        // rustls needs a process-wide crypto provider for https endpoints (ring, as for
        // signing); installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_checksum_algorithm(Checksum::SHA256)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(5),
                    base: 2.0,
                },
                max_retries: config.max_retries.unwrap_or(3),
                retry_timeout: config.retry_timeout.unwrap_or(Duration::from_secs(30)),
            });
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            b = b.with_region("us-east-1");
        }
        if let Some(r) = &config.region {
            b = b.with_region(r);
        }
        if let Some(c) = &config.credentials {
            b = b
                .with_access_key_id(&c.access_key_id)
                .with_secret_access_key(&c.secret_access_key);
        }
        if let Some(e) = &config.endpoint {
            b = b.with_endpoint(e);
        }
        if config.allow_http {
            b = b.with_allow_http(true);
        }
        let store = b
            .build()
            .map_err(|e| ArchiveError::Config(format!("{url}: {e}")))?;
        Ok(ArchiveTarget {
            store: Arc::new(store),
            bucket,
            prefix,
        })
    }

    /// `s3://BUCKET/PREFIX`.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}
