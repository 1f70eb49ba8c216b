"""Data residency: control plane vs region data planes, and the one place that enforces it."""
