"""One-shot mirror of the store into Notion databases (the repository stays canonical).

- `limiter`: the client-side token bucket that keeps a run under Notion's average rate.
- `client`: a thin httpx client with the retry policy (which requests may be retried, and how).
- `blocks`: markdown -> Notion blocks, within the API's per-request limits.
- `config`: `.claude/notion.yaml`, validated against scripts/schemas/notion-config.schema.json.
- `properties`: frontmatter values -> Notion property values.
- `sync`: plan (create / update / skip / error), apply, write-back, audit log.
"""
