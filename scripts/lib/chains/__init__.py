"""The chain runner: unattended chains of headless Claude Code sessions toward a mission.

- `registry`: the chains of every project, in $BATON_STATE_HOME/registry.json.
- `stream`: reading `claude -p --output-format stream-json` as it arrives.
- `verdicts`: what went wrong, classified on structure first (`error_kind`: fatal / transient / wait).
- `launch`: one `claude` process in its own process group, watched for stalls and the wall-clock limit.
- `handoff_check`: the note a session must leave behind, its validation and the synthetic fallback.
- `notify`: the webhook at the end of a chain.
- `attempts`: a session's `claude` runs: command line, environment, retries, usage-limit waits;
- `runner`: the loop that ties them together.
"""
