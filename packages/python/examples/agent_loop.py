"""A tool-calling agent loop (no network, no model) that records every tool call and decision.

    python packages/python/examples/agent_loop.py [TRAIL_DIR]

A scripted "model" proposes tool calls; a policy allows, modifies or denies each one; allowed
calls run against local fake tools. Every proposal, decision and result goes to the trail as a
typed audit event. At the end the agent's history is queried back, the trail is verified, and
the head checkpoint is printed: ship it off the host, and later
`evident verify TRAIL_DIR --checkpoint FILE` (or `Trail.verify()`) proves the trail still holds
everything up to it. (Inclusion proofs of single records arrive with the component's proof
functions; this example verifies the whole chain.)
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

from evident import Trail, check_bundle
from evident.events import Custom, Decision, ExecDenied, Query, ToolCall

AGENT = "support-agent-1"

# Local fake tools: what a real agent would call over the network.
TOOLS: Dict[str, Callable[[Dict[str, Any]], Any]] = {
    "kb.search": lambda a: [f"article about {a['q']}", "troubleshooting guide"],
    "account.lookup": lambda a: {"id": a["account"], "plan": "pro", "email": "***"},
    "refund.issue": lambda a: {"refunded": a["amount"]},
}

# What the scripted "model" asks for, turn by turn.
SCRIPT: List[Tuple[str, Dict[str, Any]]] = [
    ("kb.search", {"q": "login loop"}),
    ("account.lookup", {"account": "acct-17", "fields": ["plan", "email"]}),
    ("refund.issue", {"account": "acct-17", "amount": 900}),
    ("shell.exec", {"cmd": "curl http://example.invalid"}),
    ("refund.issue", {"account": "acct-17", "amount": 40}),
]


def policy(tool: str, args: Dict[str, Any]) -> Tuple[Decision, Dict[str, Any], str]:
    """Allow, modify (cap refunds, strip PII fields) or deny; returns the policy that matched."""
    if tool not in TOOLS:
        return Decision.DENY, args, "tools-allowlist-v2"
    if tool == "refund.issue" and args["amount"] > 100:
        return Decision.MODIFY, {**args, "amount": 100}, "refund-cap-100"
    if tool == "account.lookup":
        return Decision.MODIFY, {**args, "fields": [f for f in args["fields"] if f != "email"]}, "pii-redact"
    return Decision.ALLOW, args, "default-allow"


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def main() -> int:
    trail_dir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="agent-trail-")
    with Trail.open(trail_dir) as trail:
        for turn, (tool, args) in enumerate(SCRIPT, 1):
            request = f"turn-{turn}"
            decision, final_args, matched = policy(tool, args)
            started = time.monotonic()
            result = TOOLS[tool](final_args) if decision != Decision.DENY else None
            latency = int((time.monotonic() - started) * 1000)
            anomalies = ["unknown_tool"] if tool not in TOOLS else []
            receipt = trail.append_event(
                ToolCall(AGENT, request, tool_name=tool, call_id=f"call_{turn}", decision=decision,
                         policy=matched, anomalies=anomalies, latency_ms=latency,
                         upstream_status=None if result is None else 200, arguments=final_args)
            )
            if decision == Decision.DENY:
                trail.append_event(ExecDenied(AGENT, request, reason=f"{tool} is not an allowed tool", policy=matched))
            else:
                trail.append_event(Query(AGENT, request, query_id=f"call_{turn}.result", parameters=final_args,
                                         result_hash=digest(result), confidence=1.0))
            print(f"turn {turn}: {tool} -> {decision.value} (seq {receipt.seq}, durable {receipt.durable})")
        trail.append_event(Custom(AGENT, "session", name="session.end", data={"turns": len(SCRIPT)}))

        # What did the agent do, and can we prove nobody edited it?
        calls = [e for e in trail.query(agent=AGENT) if e.json()["kind"] == "tool.call"]
        decisions = [e.json() for e in calls]
        denied = [d["gen_ai.tool.name"] for d in decisions if d["gen_ai.security.decision.type"] == "deny"]
        head = trail.verify()
        print(f"{len(decisions)} tool calls recorded, denied: {denied}")

        # Prove the denied call to an auditor: one self-contained bundle (O(log n) hashes and
        # the tree's checkpoint) that anyone checks without the trail (`evident check-proof`).
        denied_seq = next(e.seq for e in calls if e.json()["gen_ai.security.decision.type"] == "deny")
        bundle = trail.prove(denied_seq)
        proof_path = os.path.join(trail_dir, "..", f"{os.path.basename(trail_dir)}-denied.proof")
        with open(proof_path, "w") as f:
            f.write(bundle)
        proven = check_bundle(bundle)
        assert proven.seq == denied_seq and proven.json()["gen_ai.tool.name"] == "shell.exec"
        print(f"proof of seq {proven.seq} in the tree of {proven.tree_size} records: {os.path.normpath(proof_path)}")
        print(f"verified {head.seq} records in {trail_dir}; head checkpoint to ship off the host:")
        print(head.to_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
