"""The telemetry hook's state and usage accounting. Standard library only, valid Python 3.8."""
