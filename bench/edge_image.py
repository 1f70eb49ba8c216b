"""Edge image size: what a device stores and downloads, and what takes the room.

    make edge-image && .venv/bin/python bench/edge_image.py [IMAGE]

IMAGE defaults to the newest junction-edge image that buildah holds. Prints its size on disk, its
compressed size (the layers as `podman save` writes them, gzipped: what a registry pull moves),
the base image's size as the baseline measured in the same run, and the largest Python packages
inside the image.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

MB = 1_000_000


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def newest_edge_image() -> str:
    rows = json.loads(run("buildah", "images", "--json"))
    tagged = [
        (row.get("createdatraw", ""), name)
        for row in rows
        for name in row.get("names") or []
        if "/junction-edge:" in name
    ]
    if not tagged:
        sys.exit("no junction-edge image: run `make edge-image` first")
    return max(tagged)[1]


def size_on_disk(image: str) -> int:
    return int(run("podman", "image", "inspect", "--format", "{{.Size}}", image))


def compressed_size(image: str) -> int:
    """Bytes of `podman save` (docker-archive) piped through gzip at level 6, as registries do."""
    saved = subprocess.Popen(
        ["podman", "save", "--quiet", "--format", "docker-archive", image], stdout=subprocess.PIPE
    )
    assert saved.stdout is not None
    # A streaming gzip stream (wbits 31), so memory stays flat and the figure is one stream's.
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    total = 0
    while chunk := saved.stdout.read(8 * MB):
        total += len(compressor.compress(chunk))
    total += len(compressor.flush())
    if saved.wait() != 0:
        sys.exit(f"podman save {image} failed")
    return total


def largest_packages(image: str, top: int = 8) -> list[tuple[str, int]]:
    container = run("buildah", "from", "--quiet", image).strip()
    try:
        root = Path(run("buildah", "mount", container).strip())
        (site,) = root.glob("opt/junction/lib/python3*/site-packages")
        sizes: dict[str, int] = {}
        for entry in site.iterdir():
            # A package and its wheel's bundled shared libraries (NAME.libs) are listed apart.
            if not entry.is_dir() or entry.name.endswith(".dist-info"):
                continue
            sizes[entry.name] = sum(
                f.stat().st_size for f in entry.rglob("*") if f.is_file() and not f.is_symlink()
            )
        return sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    finally:
        subprocess.run(["buildah", "umount", container], capture_output=True)
        subprocess.run(["buildah", "rm", container], capture_output=True)


def main() -> None:
    image = sys.argv[1] if len(sys.argv) > 1 else newest_edge_image()
    disk = size_on_disk(image)
    print(f"edge image bench: {image}")
    # The local mmdebstrap base `make edge-image` builds on (absent when built on a public base).
    base_name = next(
        (
            n
            for row in json.loads(run("buildah", "images", "--json"))
            for n in row.get("names") or []
            if "/junction-edge-base:" in n
        ),
        None,
    )
    if base_name:
        base_disk = size_on_disk(base_name)
        print(f"  base {base_name}: {base_disk / MB:.0f} MB on disk (baseline)")
        print(
            f"  image: {disk / MB:.0f} MB on disk, {disk / base_disk:.2f}x the base, "
            f"{(disk - base_disk) / MB:.0f} MB added"
        )
    else:
        print(f"  image: {disk / MB:.0f} MB on disk")
    print(f"  compressed (podman save | gzip -6): {compressed_size(image) / MB:.0f} MB")
    print("  largest Python packages inside:")
    for name, size in largest_packages(image):
        print(f"    {name:28s} {size / MB:6.1f} MB")


if __name__ == "__main__":
    main()
