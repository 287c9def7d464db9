"""Sync with the district server: the outbox relay, the signed HTTP client and the wire models."""
