"""Batch parsing bench: what refusing duplicate JSON keys costs per batch, against the schema
validation alone, on the ingest bench's batch shape (15 one-minute buckets x 24 count rows).

    .venv/bin/python bench/batch_parse.py [--rounds 300]

The baseline (pydantic's `model_validate_json`, which keeps the last of two equal keys) and
`batch_parse` (the same, then a second parse that refuses a key given twice) run in the same
process on the same body; the best of five rounds is printed for each.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "junction.settings")

import django  # noqa: E402

django.setup()

from junction.ingest.schema import BatchIn, batch_parse  # noqa: E402

CLASSES = ("car", "bus", "truck", "person")


def batch_body() -> bytes:
    buckets = [
        {
            "start": f"2026-11-27T06:{minute:02d}:00Z",
            "seconds": 60,
            "uptime": 1.0,
            "counts": [
                {
                    "counter": f"counter-{i % 6}",
                    "direction": "in" if i % 2 else "out",
                    "class": CLASSES[i // 6],
                    "count": i,
                }
                for i in range(24)
            ],
        }
        for minute in range(15)
    ]
    return json.dumps(
        {
            "schema": "junction.batch/v1",
            "batch_id": str(uuid.uuid4()),
            "device_id": "dev-bench",
            "site": "bench-site",
            "region": "eu-west",
            "model": {"name": "yolox_nano", "sha256": hashlib.sha256(b"model").hexdigest()},
            "buckets": buckets,
        }
    ).encode()


def best_ms(parse, body: bytes, rounds: int) -> float:
    times = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(rounds):
            parse(body)
        times.append((time.perf_counter() - began) / rounds)
    return min(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds
    body = batch_body()
    baseline = best_ms(BatchIn.model_validate_json, body, rounds)
    full = best_ms(batch_parse, body, rounds)
    print(
        f"batch parse bench: {len(body)} bytes, 15 buckets x 24 count rows, best of 5 x "
        f"{rounds}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"schema only (baseline)      {baseline:7.3f} ms/batch")
    print(f"batch_parse (+ duplicates)  {full:7.3f} ms/batch")
    print(f"added by the key check      {full - baseline:7.3f} ms/batch")


if __name__ == "__main__":
    main()
