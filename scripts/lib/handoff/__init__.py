"""The `/handoff` flow: one module per step (see docs/conventions/handoff.md).

- `identity`: the operator and the session id (claim, or the pre-claimed `$BATON_SESSION_ID`);
- `plan`: step 0, which also decides the mode (full, quick, trivial, auto);
- `state`: the telemetry state of the Claude Code session, invariants, archiving;
- `gitstats`: what git says the session did;
- `note`: the session note (and learnings), built, validated and written over the claim stub;
- `worklog`: the workstream's Session Log; `listings`: the INDEX.md tables;
- `commit`: committing exactly the handoff's files, the remote id collision, pushing;
- `integrate`: pushing to a remote many clones push to (fetch, re-check unpushed notes, push, retry),
  `replay`: the handoff commits made again on a remote branch that moved on;
- `manifest`: the per-handoff record of the files written, in `.claude/state/`.
"""
