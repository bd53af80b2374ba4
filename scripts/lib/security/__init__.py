"""Redaction of secrets wherever text leaves the machine or enters git."""
