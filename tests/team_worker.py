"""One clone's work in the team tests and bench/bench_team.py, run as a process of its own.

    team_worker.py CLONE OPERATOR COUNT (push-each | commit-only | plain) [TAG]

Each handoff goes through handoff_helpers.py's steps (start, write-session, append-log, changelog,
regen-index, link, stage, commit [--push]) in this process, one Claude session id per handoff.
`plain` commits the same files, then pushes as a user would without baton's checks: `git push`, and
on a rejection `git pull --rebase` and again (a rebase that stops on a conflict is aborted and the
handoff counted as stranded).
Prints one JSON line per handoff: its id, whether it was pushed, the push attempts.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))

import handoff_helpers  # noqa: E402


def call(*args: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    sys.stdin = io.StringIO(stdin)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = handoff_helpers.main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def must(*args: str, stdin: str = "") -> str:
    code, out, err = call(*args, stdin=stdin)
    if code != 0:
        raise SystemExit(f"{args[0]} failed ({code}): {err.strip()}")
    return out


def content(title: str) -> dict[str, object]:
    words = " ".join(f"word{i}" for i in range(90))
    return {"title": title, "summary": f"{title}: done.", "outcome": "done", "workstream": "auth",
            "tags": ["auth"], "sections": {"what_was_done": f"- {title}", "next_steps": "- More",
                                           "resume_prompt": f"{words}\n\nConfidence: medium"}}


PLAIN_ATTEMPTS = 30


def git(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=clone, capture_output=True, text=True)


def plain_push(clone: Path) -> tuple[bool, int, str]:
    """`git push`, and `git pull --rebase` after each rejection: what a user does without baton."""
    for attempt in range(1, PLAIN_ATTEMPTS + 1):
        if git(clone, "push", "-q", "origin", "HEAD:main").returncode == 0:
            return True, attempt, ""
        pulled = git(clone, "pull", "-q", "--rebase", "origin", "main")
        if pulled.returncode != 0:
            git(clone, "rebase", "--abort")
            return False, attempt, "git pull --rebase stopped on a conflict"
    return False, PLAIN_ATTEMPTS, "still rejected"


def main() -> int:
    clone, operator, count, mode = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    tag = sys.argv[5] if len(sys.argv) > 5 else clone.name
    os.chdir(clone)
    os.environ["OPERATOR"] = operator
    for n in range(count):
        os.environ["CLAUDE_CODE_SESSION_ID"] = f"{tag}-{n}"
        sid = json.loads(must("start", "--auto", "--json"))["id"]
        must("write-session", "--id", sid, stdin=json.dumps(content(f"{tag} handoff {n}")))
        must("append-log", "--id", sid, "--line", f"{tag} handoff {n}")
        must("changelog", "--id", sid)
        must("regen-index", "--id", sid)
        must("link", "--id", sid)
        must("stage", "--id", sid)
        args = ["commit", "--id", sid, "--json"] + (["--push"] if mode == "push-each" else [])
        code, out, err = call(*args)
        if mode == "plain" and code == 0:
            pushed, attempts, error = plain_push(clone)
            print(json.dumps({"id": sid, "claimed": sid, "code": 0, "pushed": pushed, "attempts": attempts,
                              "error": error}), flush=True)
            continue
        result = json.loads(out) if out.strip() else {}
        print(json.dumps({"id": result.get("id", sid), "claimed": sid, "code": code, "pushed": result.get("pushed"),
                          "attempts": result.get("push_attempts", 0), "error": err.strip()}), flush=True)
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
