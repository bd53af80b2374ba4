"""The console: a read-only HTTP API and live web pages over the store, the chain registry and the
telemetry state, with one mutation (stopping a chain).

Nothing heavy is imported here: `serve.py` imports `lib.console.app` (Starlette, Jinja2) only when it
starts a server, so the rest of baton never pays for the web stack.
"""
