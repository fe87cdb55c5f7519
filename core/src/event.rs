//! Typed audit events: what agent platforms record, one JSON object per record.
//!
//! Field names follow the OpenTelemetry GenAI semantic conventions where one exists
//! (`gen_ai.tool.name`, `gen_ai.tool.call.id`, `gen_ai.operation.name`,
//! `gen_ai.security.decision.type`, `gen_ai.agent.id`); the mapping is documented in the README.
//! Every event carries the agent id and a correlation id (request or trace id). The canonical
//! encoding is compact JSON as produced by [`AuditEvent::to_json`]; raw byte payloads remain
//! possible — a trail does not require events.

use serde::{Deserialize, Serialize};

/// One audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The agent that acted (`gen_ai.agent.id`).
    #[serde(rename = "gen_ai.agent.id")]
    pub agent_id: String,
    /// Request or trace id tying related events together (exec request → started → exit).
    #[serde(rename = "correlation.id")]
    pub correlation_id: String,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// The authorization decision on an action (`gen_ai.security.decision.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The action was allowed as asked.
    Allow,
    /// The action was refused.
    Deny,
    /// The action was allowed after its arguments were changed.
    Modify,
    /// Allowed and flagged for audit.
    Audit,
    /// Allowed with a warning.
    Warn,
}

impl Decision {
    /// Lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Modify => "modify",
            Decision::Audit => "audit",
            Decision::Warn => "warn",
        }
    }
}

/// The kinds of event, tagged by `kind` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum EventBody {
    /// An agent asks to run a command.
    #[serde(rename = "exec.request")]
    ExecRequest {
        /// Host or sandbox the command is to run on.
        machine: String,
        /// The command line.
        argv: Vec<String>,
        /// The policy that matched, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
        /// Bytes given on standard input.
        #[serde(default)]
        stdin_bytes: u64,
        /// Time limit in milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// The command started.
    #[serde(rename = "exec.started")]
    ExecStarted {
        /// Its process id.
        pid: u32,
    },
    /// Something noteworthy while it ran (e.g. `output_truncated`).
    #[serde(rename = "exec.warning")]
    ExecWarning {
        /// What kind of warning.
        warning: String,
        /// Bytes concerned (e.g. bytes dropped).
        #[serde(default)]
        bytes: u64,
    },
    /// The command ended.
    #[serde(rename = "exec.exit")]
    ExecExit {
        /// Exit code, when it exited normally.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        /// Signal that ended it, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        /// Wall time in milliseconds.
        duration_ms: u64,
        /// Bytes written to standard output.
        #[serde(default)]
        stdout_bytes: u64,
        /// Bytes written to standard error.
        #[serde(default)]
        stderr_bytes: u64,
        /// Whether the captured output was truncated.
        #[serde(default)]
        truncated: bool,
    },
    /// The request was refused before it ran.
    #[serde(rename = "exec.denied")]
    ExecDenied {
        /// Why.
        reason: String,
        /// The policy that refused it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
    },
    /// A tool call and the authorization decision on it.
    #[serde(rename = "tool.call")]
    ToolCall {
        /// `gen_ai.tool.name`.
        #[serde(rename = "gen_ai.tool.name")]
        tool_name: String,
        /// `gen_ai.tool.call.id`.
        #[serde(rename = "gen_ai.tool.call.id")]
        call_id: String,
        /// `gen_ai.operation.name` (`execute_tool` for tool calls).
        #[serde(rename = "gen_ai.operation.name", default = "execute_tool")]
        operation: String,
        /// `gen_ai.security.decision.type`.
        #[serde(rename = "gen_ai.security.decision.type")]
        decision: Decision,
        /// The policy that matched.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
        /// Anomaly flags raised.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        anomalies: Vec<String>,
        /// Latency of the call in milliseconds.
        #[serde(default)]
        latency_ms: u64,
        /// Status returned by the upstream tool server, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        upstream_status: Option<u16>,
        /// The arguments, when recorded in full.
        #[serde(
            rename = "gen_ai.tool.call.arguments",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        arguments: Option<serde_json::Value>,
        /// BLAKE3 hex of the canonical JSON arguments, when recorded instead of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        arguments_hash: Option<String>,
    },
    /// A query and what its answer rests on.
    #[serde(rename = "query")]
    Query {
        /// Query id.
        query_id: String,
        /// Its parameters.
        #[serde(default)]
        parameters: serde_json::Value,
        /// BLAKE3 hex of the result.
        result_hash: String,
        /// Confidence in the result, 0..1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<f64>,
        /// Ids of the assertions that contributed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        assertions: Vec<String>,
    },
    /// Anything else: a name and free-form data.
    #[serde(rename = "custom")]
    Custom {
        /// What it is.
        name: String,
        /// Free-form data.
        #[serde(default)]
        data: serde_json::Value,
    },
}

fn execute_tool() -> String {
    "execute_tool".to_string()
}

impl EventBody {
    /// The `kind` tag (`exec.request`, `tool.call`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::ExecRequest { .. } => "exec.request",
            EventBody::ExecStarted { .. } => "exec.started",
            EventBody::ExecWarning { .. } => "exec.warning",
            EventBody::ExecExit { .. } => "exec.exit",
            EventBody::ExecDenied { .. } => "exec.denied",
            EventBody::ToolCall { .. } => "tool.call",
            EventBody::Query { .. } => "query",
            EventBody::Custom { .. } => "custom",
        }
    }

    /// The authorization decision, for tool calls (and `deny` for denied execs).
    pub fn decision(&self) -> Option<Decision> {
        match self {
            EventBody::ToolCall { decision, .. } => Some(*decision),
            EventBody::ExecDenied { .. } => Some(Decision::Deny),
            _ => None,
        }
    }
}

impl AuditEvent {
    /// The canonical encoding: compact JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an AuditEvent always serializes")
    }

    /// Parses a record payload as an event.
    pub fn from_json(bytes: &[u8]) -> Result<AuditEvent, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// BLAKE3 hex of a JSON value's compact encoding: what `arguments_hash` holds when a tool
    /// call's arguments are recorded by hash rather than in full.
    pub fn hash_arguments(arguments: &serde_json::Value) -> String {
        blake3::hash(&serde_json::to_vec(arguments).expect("a Value always serializes"))
            .to_hex()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(body: EventBody) -> AuditEvent {
        AuditEvent {
            agent_id: "agent-7".into(),
            correlation_id: "req-42".into(),
            body,
        }
    }

    fn all_kinds() -> Vec<AuditEvent> {
        vec![
            ev(EventBody::ExecRequest {
                machine: "sandbox-1".into(),
                argv: vec!["git".into(), "push".into()],
                policy: Some("git-readonly".into()),
                stdin_bytes: 0,
                timeout_ms: Some(30_000),
            }),
            ev(EventBody::ExecStarted { pid: 4242 }),
            ev(EventBody::ExecWarning {
                warning: "output_truncated".into(),
                bytes: 1 << 20,
            }),
            ev(EventBody::ExecExit {
                code: Some(1),
                signal: None,
                duration_ms: 1234,
                stdout_bytes: 10,
                stderr_bytes: 20,
                truncated: true,
            }),
            ev(EventBody::ExecDenied {
                reason: "network access".into(),
                policy: Some("no-net".into()),
            }),
            ev(EventBody::ToolCall {
                tool_name: "web.search".into(),
                call_id: "call_1".into(),
                operation: "execute_tool".into(),
                decision: Decision::Modify,
                policy: Some("pii-redact".into()),
                anomalies: vec!["rate_spike".into()],
                latency_ms: 87,
                upstream_status: Some(200),
                arguments: None,
                arguments_hash: Some(AuditEvent::hash_arguments(&json!({"q": "x"}))),
            }),
            ev(EventBody::Query {
                query_id: "q-9".into(),
                parameters: json!({"subject": "acct-1"}),
                result_hash: "ab".repeat(32),
                confidence: Some(0.93),
                assertions: vec!["as-1".into(), "as-2".into()],
            }),
            ev(EventBody::Custom {
                name: "heartbeat".into(),
                data: json!({"ok": true}),
            }),
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        for e in all_kinds() {
            let bytes = e.to_json();
            assert_eq!(
                AuditEvent::from_json(&bytes).unwrap(),
                e,
                "{}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn field_names_follow_otel_genai() {
        let e = &all_kinds()[5];
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(v["kind"], "tool.call");
        assert_eq!(v["gen_ai.agent.id"], "agent-7");
        assert_eq!(v["gen_ai.tool.name"], "web.search");
        assert_eq!(v["gen_ai.tool.call.id"], "call_1");
        assert_eq!(v["gen_ai.operation.name"], "execute_tool");
        assert_eq!(v["gen_ai.security.decision.type"], "modify");
        assert_eq!(v["correlation.id"], "req-42");
        assert!(
            v.get("gen_ai.tool.call.arguments").is_none(),
            "arguments recorded by hash only"
        );
    }

    #[test]
    fn unknown_kind_and_missing_fields_are_errors() {
        assert!(AuditEvent::from_json(
            br#"{"gen_ai.agent.id":"a","correlation.id":"c","kind":"nope"}"#
        )
        .is_err());
        assert!(
            AuditEvent::from_json(br#"{"gen_ai.agent.id":"a","kind":"exec.started","pid":1}"#)
                .is_err()
        );
        assert!(AuditEvent::from_json(b"not json").is_err());
    }
}
