//! Signature reports for the CLI: [`evident_core::note::report`]'s [`NoteReport`] as JSON,
//! and policy files read from disk.

pub use evident_core::note::report::{proof_checkpoint_note, LineReport, NoteReport};
use evident_core::note::Policy;
use serde_json::json;

/// The report as JSON: `{"signatures": [...], "policy": {"ok", "cosigned" | "error"}}`.
pub fn report_json(r: &NoteReport) -> serde_json::Value {
    let lines: Vec<_> = r
        .lines
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "key_id": l.key_id,
                "kind": l.kind,
                "verified": l.verified,
                "timestamp": l.timestamp,
            })
        })
        .collect();
    let policy = match &r.policy {
        None => serde_json::Value::Null,
        Some(Ok(c)) => json!({"ok": true, "cosigned": c}),
        Some(Err(e)) => json!({"ok": false, "error": e}),
    };
    json!({"signatures": lines, "policy": policy})
}

/// Reads and parses a policy file (UTF-8 tlog-policy text, at most 1 MiB).
pub fn read_policy(path: &std::path::Path) -> std::io::Result<Policy> {
    let bytes = crate::safe_fs::read_small(path, 1 << 20)
        .map_err(|e| std::io::Error::new(e.kind(), format!("policy {}: {e}", path.display())))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("policy {}: not UTF-8", path.display()),
        )
    })?;
    Policy::parse(&text).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("policy {}: {e}", path.display()),
        )
    })
}
