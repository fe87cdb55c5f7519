// Typed audit events: the schema of the Rust `AuditEvent`, one JSON object per record.
// `eventJson(event)` gives the Rust adapter's canonical encoding: compact JSON, fields in schema
// order with the OpenTelemetry GenAI names, unset optional fields left out.

const GEN_AI = {
  toolName: "gen_ai.tool.name",
  callId: "gen_ai.tool.call.id",
  operation: "gen_ai.operation.name",
  decision: "gen_ai.security.decision.type",
  arguments: "gen_ai.tool.call.arguments",
};

// kind -> [field (camelCase), JSON name, default when absent or undefined = optional]
const OPTIONAL = Symbol("optional");
const SCHEMA = {
  "exec.request": [["machine", ""], ["argv", []], ["policy", OPTIONAL], ["stdinBytes", 0], ["timeoutMs", OPTIONAL]],
  "exec.started": [["pid", 0]],
  "exec.warning": [["warning", ""], ["bytes", 0]],
  "exec.exit": [["code", OPTIONAL], ["signal", OPTIONAL], ["durationMs", 0], ["stdoutBytes", 0], ["stderrBytes", 0], ["truncated", false]],
  "exec.denied": [["reason", ""], ["policy", OPTIONAL]],
  "tool.call": [
    ["toolName", ""], ["callId", ""], ["operation", "execute_tool"], ["decision", "allow"], ["policy", OPTIONAL],
    ["anomalies", OPTIONAL], ["latencyMs", 0], ["upstreamStatus", OPTIONAL], ["arguments", OPTIONAL], ["argumentsHash", OPTIONAL],
  ],
  query: [["queryId", ""], ["parameters", null], ["resultHash", ""], ["confidence", OPTIONAL], ["assertions", OPTIONAL]],
  custom: [["name", ""], ["data", null]],
};

/** The decisions (`gen_ai.security.decision.type`). */
export const DECISIONS = ["allow", "deny", "modify", "audit", "warn"];

const snake = (s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const jsonName = (f) => GEN_AI[f] ?? snake(f);

function jsonValue(v) {
  return typeof v === "bigint" ? Number(v) : v;
}

/** The event as a JSON object in schema order; throws TypeError for an unknown kind. */
export function eventObject(event) {
  const schema = SCHEMA[event?.kind];
  if (!schema) throw new TypeError(`not an audit event kind: ${JSON.stringify(event?.kind)}`);
  if (typeof event.agentId !== "string" || typeof event.correlationId !== "string") {
    throw new TypeError("an audit event needs agentId and correlationId strings");
  }
  if (event.kind === "tool.call" && event.decision !== undefined && !DECISIONS.includes(event.decision)) {
    throw new TypeError(`decision ${JSON.stringify(event.decision)}: expected one of ${DECISIONS.join(", ")}`);
  }
  const out = { "gen_ai.agent.id": event.agentId, "correlation.id": event.correlationId, kind: event.kind };
  for (const [field, dflt] of schema) {
    const v = event[field];
    if (dflt === OPTIONAL) {
      if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
      out[jsonName(field)] = jsonValue(v);
    } else {
      out[jsonName(field)] = v === undefined ? dflt : jsonValue(v);
    }
  }
  return out;
}

/** The canonical encoding of an event (UTF-8 compact JSON). */
export function eventJson(event) {
  return new TextEncoder().encode(JSON.stringify(eventObject(event)));
}

/** Parses a JSON event object read back into the camelCase form `appendEvent` takes. */
export function parseEvent(obj) {
  const schema = SCHEMA[obj?.kind];
  if (!schema) throw new TypeError(`not an audit event: kind ${JSON.stringify(obj?.kind)}`);
  const ev = { kind: obj.kind, agentId: obj["gen_ai.agent.id"], correlationId: obj["correlation.id"] };
  for (const [field] of schema) {
    const name = jsonName(field);
    if (name in obj) ev[field] = obj[name];
  }
  return ev;
}
