"""The store: frontmatter, YAML, schemas, ids, operators, validation, the SQLite index."""
