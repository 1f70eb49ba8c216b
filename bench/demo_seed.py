"""`make demo`'s seeding, timed: migrate_all and demo_seed (six weeks of history sent through
ingest, rolled up and judged) on the embedded default, then demo_seed again (a no-op).

    .venv/bin/python bench/demo_seed.py

Runs each step as `make demo` does, in a fresh temporary var folder (SQLite files), and prints
wall-clock and CPU seconds per step with the machine's load average, since on a shared machine
the wall clock measures the neighbours too.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def step(name: str, args: list[str], env: dict[str, str]) -> str:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"{name:<22} wall {wall:6.1f} s   cpu {cpu:6.1f} s   load {os.getloadavg()[0]:.1f}")
    return done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="junction-bench-demo-") as var_dir:
        env = os.environ | {"JUNCTION_VAR_DIR": var_dir, "JUNCTION_DEBUG": "0"}
        for name in ("DATABASE_URL", "JUNCTION_REGIONS", "REDIS_URL"):
            env.pop(name, None)  # the embedded default, as `make demo` runs it
        step("migrate_all", ["migrate_all", "-v0"], env)
        first = json.loads(step("demo_seed", ["demo_seed", "--json"], env))
        again = json.loads(step("demo_seed (again)", ["demo_seed", "--json"], env))
    for sent, rerun in zip(first["history"], again["history"], strict=True):
        print(
            f"{sent['site']}: {sent['batches_stored']} batches stored "
            f"({sent['since']}..{sent['until']}), {len(sent['anomalies'])} anomalies; "
            f"again: {rerun['batches_stored']} stored, {len(rerun['anomalies'])} anomalies"
        )


if __name__ == "__main__":
    main()
