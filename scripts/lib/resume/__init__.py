"""/resume: the dashboard and its context."""
