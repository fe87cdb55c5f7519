//! From a `tracing` event's fields to an [`AuditEvent`]: the schema's names (or their Rust
//! field names, `tool_name` for `gen_ai.tool.name`), `kind` naming the event kind, and
//! everything that does not fit kept rather than lost (as a `custom` event).

use evident_core::{AuditEvent, EventBody};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};

/// Collects an event's fields as JSON values.
#[derive(Default)]
pub(crate) struct Fields(pub(crate) Map<String, Value>);

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::from(format!("{value:?}")));
    }
}

/// Rust-style field names accepted for the schema's JSON names.
const ALIASES: &[(&str, &str)] = &[
    ("agent_id", "gen_ai.agent.id"),
    ("correlation_id", "correlation.id"),
    ("tool_name", "gen_ai.tool.name"),
    ("call_id", "gen_ai.tool.call.id"),
    ("operation", "gen_ai.operation.name"),
    ("decision", "gen_ai.security.decision.type"),
    ("arguments", "gen_ai.tool.call.arguments"),
];

/// Fields whose value is JSON (a tracing field is a scalar: these arrive as strings).
const JSON_FIELDS: &[&str] = &["gen_ai.tool.call.arguments", "parameters", "data"];
/// List fields and how a plain string splits into items when it is not a JSON array.
const LIST_FIELDS: &[(&str, Option<char>)] = &[
    ("argv", None),
    ("anomalies", Some(',')),
    ("assertions", Some(',')),
];

/// What the layer knows besides the fields.
pub(crate) struct Context<'a> {
    pub default_agent: &'a str,
    pub target: &'a str,
    pub level: &'a str,
    /// A selecting marker field, left out of the record.
    pub marker: Option<&'a str>,
}

fn canonical(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canon)| canon)
}

fn shape(name: &str, value: Value) -> Value {
    let Value::String(s) = &value else {
        return value;
    };
    if JSON_FIELDS.contains(&name) {
        return serde_json::from_str(s).unwrap_or(value);
    }
    if let Some((_, sep)) = LIST_FIELDS.iter().find(|(n, _)| *n == name) {
        if let Ok(v @ Value::Array(_)) = serde_json::from_str::<Value>(s) {
            return v;
        }
        let items: Vec<Value> = match sep {
            None => s.split_whitespace().map(Value::from).collect(),
            Some(c) => s
                .split(*c)
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(Value::from)
                .collect(),
        };
        return Value::Array(items);
    }
    value
}

/// The audit event for one tracing event. With a `kind` the fields must fit that kind's
/// schema; when they do not (a missing or mistyped field) the event is still recorded, as a
/// `custom` event named by the kind whose data holds the fields and `evident.error` says why.
/// Without a `kind` it is a `custom` event named by its message (else its target).
pub(crate) fn audit_event(fields: Fields, cx: &Context<'_>) -> AuditEvent {
    let mut obj = Map::new();
    for (name, value) in fields.0 {
        if Some(name.as_str()) == cx.marker {
            continue;
        }
        let name = canonical(&name).to_string();
        let value = shape(&name, value);
        obj.insert(name, value);
    }
    let agent = match obj.remove("gen_ai.agent.id") {
        Some(Value::String(s)) => s,
        Some(v) => v.to_string(),
        None => cx.default_agent.to_string(),
    };
    let correlation = match obj.remove("correlation.id") {
        Some(Value::String(s)) => s,
        Some(v) => v.to_string(),
        None => String::new(),
    };
    let custom = |name: String, mut data: Map<String, Value>, error: Option<String>| {
        data.insert("target".into(), Value::from(cx.target));
        data.insert("level".into(), Value::from(cx.level));
        if let Some(e) = error {
            data.insert("evident.error".into(), Value::from(e));
        }
        AuditEvent {
            agent_id: agent.clone(),
            correlation_id: correlation.clone(),
            body: EventBody::Custom {
                name,
                data: Value::Object(data),
            },
        }
    };
    match obj.remove("kind") {
        Some(Value::String(kind)) if kind != "custom" => {
            let mut full = obj.clone();
            full.insert("gen_ai.agent.id".into(), Value::from(agent.clone()));
            full.insert("correlation.id".into(), Value::from(correlation.clone()));
            full.insert("kind".into(), Value::from(kind.clone()));
            full.remove("message");
            match serde_json::from_value::<AuditEvent>(Value::Object(full)) {
                Ok(e) => e,
                Err(e) => custom(kind, obj, Some(e.to_string())),
            }
        }
        Some(Value::String(_)) => {
            // kind = "custom": `name` and `data` as given, other fields join the data.
            let name = match obj.remove("name") {
                Some(Value::String(s)) => s,
                _ => cx.target.to_string(),
            };
            let mut data = match obj.remove("data") {
                Some(Value::Object(m)) => m,
                Some(v) => Map::from_iter([("data".to_string(), v)]),
                None => Map::new(),
            };
            data.extend(obj);
            custom(name, data, None)
        }
        other => {
            if let Some(v) = other {
                obj.insert("kind".into(), v);
            }
            let name = match obj.get("message") {
                Some(Value::String(m)) => m.clone(),
                _ => cx.target.to_string(),
            };
            custom(name, obj, None)
        }
    }
}
