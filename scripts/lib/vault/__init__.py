"""The vault: links, the Session Log, generated files, fixes."""
