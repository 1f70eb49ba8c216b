"""What the owner of count data refuses to store, for the transport to answer in its own terms."""

from __future__ import annotations


class BucketOverlap(Exception):
    """A bucket overlaps a stored bucket of its device that it would not replace.

    `index` is the bucket's position in the sequence given to the store; `detail` says which
    windows meet, for the device's operator.
    """

    def __init__(self, index: int, detail: str) -> None:
        super().__init__(detail)
        self.index = index
        self.detail = detail
