"""Refresh the front-end files Junction ships, from the npm registry, at the versions pinned in
vendor.json; record each file's SHA-256 and the package's licence beside the pin.

    python tools/vendor.py          # `make vendor`: fetch the pinned versions, record checksums
    python tools/vendor.py --check  # the files on disk are exactly the recorded ones (tests)

To upgrade a package, change its version in vendor.json and run `make vendor`. `npm pack`
verifies the tarball against the registry's integrity hash before anything is unpacked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "vendor.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refresh(entry: dict) -> None:
    spec = f"{entry['package']}@{entry['version']}"
    with tempfile.TemporaryDirectory() as tmp:
        packed = subprocess.run(
            ["npm", "pack", spec, "--json", "--pack-destination", tmp],
            check=True,
            capture_output=True,
            text=True,
        )
        info = json.loads(packed.stdout)[0]
        with tarfile.open(Path(tmp) / info["filename"]) as tarball:
            package_json = json.load(tarball.extractfile("package/package.json"))  # type: ignore[arg-type]
            for source, target in entry["files"].items():
                member = tarball.extractfile(f"package/{source}")
                if member is None:
                    raise SystemExit(f"{spec} has no file {source}")
                destination = ROOT / target
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(member.read())
    entry["license"] = package_json.get("license", "see package")
    entry["integrity"] = info["integrity"]
    entry["sha256"] = {target: sha256(ROOT / target) for target in entry["files"].values()}
    print(f"{spec} ({entry['license']}): {', '.join(entry['files'].values())}")


def check(entries: list[dict]) -> list[str]:
    problems = []
    for entry in entries:
        for target, digest in entry["sha256"].items():
            path = ROOT / target
            if not path.exists():
                problems.append(f"{target} is missing (run make vendor)")
            elif sha256(path) != digest:
                problems.append(f"{target} differs from {entry['package']}@{entry['version']}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    entries = json.loads(MANIFEST.read_text())
    if args.check:
        problems = check(entries)
        print("\n".join(problems) or "vendored files match vendor.json")
        sys.exit(1 if problems else 0)
    for entry in entries:
        refresh(entry)
    MANIFEST.write_text(json.dumps(entries, indent=2) + "\n")


if __name__ == "__main__":
    main()
