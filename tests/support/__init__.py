"""Helpers the tests and benchmarks share: the operators roster, the store factory, git repositories and remotes,
a threaded HTTP server on 127.0.0.1, the fakes built on it, and the harnesses of the chain runner, the handoff and
the console."""
