"""Errors raised where residency rules are enforced."""

from __future__ import annotations


class ResidencyViolation(Exception):
    """Region data was about to be read or written outside its region's database."""


class MisdirectedRegion(Exception):
    """This node does not serve the region asked for; the caller must go to `endpoint`."""

    def __init__(self, region: str, endpoint: str | None) -> None:
        self.region = region
        self.endpoint = endpoint
        where = f"; send it to {endpoint}" if endpoint else ""
        super().__init__(f"this node does not serve region {region!r}{where}")


class TransferRefused(Exception):
    """Data was asked to cross regions without a transfer rule that allows it."""
