"""What the realclient /handoff tests share: the scripted model's `finish` call and reading what the CLI sent."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from . import standin as s
from .standin import Request

HELPER = "./scripts/py scripts/handoff_helpers.py"
FULL_SECTIONS = ["Summary", "What was done", "Decisions", "Open questions", "Next steps", "Resume Prompt",
                 "Telemetry"]


def first_json(text: str) -> dict[str, Any]:
    """The helper JSON inside a text (a pre-run's output inlined in the command, or a tool result)."""
    match = re.search(r'\{\s*"version"', text)
    assert match, f"no helper JSON in: {text[-3000:]}"
    payload, _ = json.JSONDecoder().raw_decode(text[match.start():])
    assert isinstance(payload, dict)
    return payload


def started(request: Request) -> dict[str, Any]:
    """`start`'s JSON, pre-run by the command: it is in the request that carries the command's text."""
    for message in reversed(request.messages()):
        text = s.flatten_text(message.get("content"))
        if "Step 0 already ran" in text:
            return first_json(text)
    raise AssertionError("the command's text (with start's output) is not in the request")


def finished(request: Request) -> tuple[dict[str, Any], bool]:
    """`finish`'s JSON from the newest tool result, and whether the CLI marked it an error (exit 1)."""
    result = request.tool_results()[-1]
    return first_json(s.flatten_text(result["content"])), bool(result.get("is_error"))


def block_yaml(data: Mapping[str, Any], indent: int = 0) -> str:
    """Block-style YAML as the command file asks for: `|` blocks and `- item` lists, never a brace."""
    pad = " " * indent
    out = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.append(f"{pad}{key}:\n{block_yaml(value, indent + 2)}")
        elif isinstance(value, list):
            out.append(f"{pad}{key}:")
            for item in value:
                if isinstance(item, Mapping):
                    first, *rest = block_yaml(item, indent + 4).splitlines()
                    out.append(f"{pad}  - {first.strip()}")
                    out.extend(rest)
                else:
                    out.append(f"{pad}  - {item}")
        elif isinstance(value, str) and not re.fullmatch(r"[A-Za-z0-9][\w .,/()-]{0,60}", value):
            out.append(f"{pad}{key}: |")
            out.extend(f"{pad}  {line}" if line else "" for line in value.splitlines())
        elif value is None:
            out.append(f"{pad}{key}: null")
        else:
            out.append(f"{pad}{key}: {value}")
    return "\n".join(out) + "\n"


def resume_prompt(topic: str, confidence: str = "high") -> str:
    words = (f"Continue from the {topic}: the note, its learnings and its log line were written by one finish "
             "call and committed. ") * 4
    return f"{words.strip()}\n\nConfidence: {confidence}"


def full_content(topic: str, *, workstream: str | None = None) -> dict[str, Any]:
    return {
        "title": f"Real client {topic}",
        "summary": f"Handed off the {topic} in two model requests.",
        "outcome": "incomplete",
        "workstream": workstream,
        "plan": None,
        "tags": ["realclient"],
        "log_line": f"Handed off the {topic}",
        "sections": {
            "what_was_done": "- Ran /handoff under the real client",
            "decisions": "- One finish call: every deterministic step in the helper",
            "open_questions": "- None for now",
            "next_steps": "1. Keep the request count at two",
            "resume_prompt": resume_prompt(topic),
        },
        "learnings": [{
            "slug": "handoff-in-two-requests",
            "title": "A handoff is two model requests",
            "summary": "Pre-run start, then one finish call with all the content.",
            "tags": ["handoff"],
            "lesson": "Every tool call re-reads the conversation; deterministic steps belong in one helper call.",
        }],
    }


def quick_content(topic: str) -> dict[str, Any]:
    return {"title": f"Real client {topic}", "summary": f"Handed off the {topic}.", "outcome": "done",
            "tags": ["realclient"], "sections": {"resume_prompt": resume_prompt(topic)}}


def finish_call(data: Mapping[str, Any], *flags: str, prefix: str = "", helper: str = HELPER,
                seen: dict[str, Any] | None = None) -> Callable[[Request], s.Reply]:
    """The model's one `finish` call, with the id taken from start's pre-run output (unless a flag says
    otherwise, as after the operator was confirmed)."""

    def reply(request: Request) -> s.Reply:
        args = list(flags)
        if "--operator-confirmed" not in args:
            start = started(request)
            if seen is not None:
                seen["start"] = start
            args = ["--id", str(start["id"]), *args]
        command = f"{prefix}{helper} finish {' '.join(args)} --json <<'EOF'\n{block_yaml(data)}EOF"
        return s.bash(command, "hand off")

    return reply


def closing(seen: dict[str, Any]) -> Callable[[Request], s.Reply]:
    """The closing message, after keeping finish's report for the test."""

    def reply(request: Request) -> s.Reply:
        seen["finish"], seen["finish_is_error"] = finished(request)
        return s.text(f"Handoff {seen['finish'].get('id')} done.")

    return reply
