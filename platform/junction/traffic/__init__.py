"""Stored traffic aggregates (count buckets and their rows): region plane."""
