"""Signed, idempotent ingest of count batches from edge devices."""
