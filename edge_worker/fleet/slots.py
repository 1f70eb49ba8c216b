"""Release slots on the device: each release in its own folder, the live one named by a symlink.

```
<root>/slots/<release>/     model.onnx, site-patch.yaml (verified before they got here)
<root>/staging/<release>/   a download in progress (never read by the camera processes)
<root>/partial/<digest>     a target's bytes so far, kept across a cut download to resume it
<root>/current -> slots/<release>     the live release
<root>/previous -> slots/<release>    the one before, kept for a rollback
```
Every switch is a rename of a new symlink over the old one (atomic on POSIX), with the folder
fsync'd, so a power cut at any point leaves `current` naming a complete slot, old or new.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CURRENT = "current"
PREVIOUS = "previous"


class SlotError(Exception):
    """A slot is missing or incomplete; nothing was switched."""


def fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(path: Path) -> None:
    for file in path.iterdir():
        if file.is_file():
            with file.open("rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(path)


class Slots:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.slots = self.root / "slots"
        self.staging_root = self.root / "staging"
        self.partial = self.root / "partial"
        for folder in (self.slots, self.staging_root, self.partial):
            folder.mkdir(parents=True, exist_ok=True)

    def live(self) -> str | None:
        return self._target_of(CURRENT)

    def previous(self) -> str | None:
        return self._target_of(PREVIOUS)

    def path_of(self, release: str) -> Path:
        return self.slots / release

    def releases(self) -> list[str]:
        return sorted(p.name for p in self.slots.iterdir() if p.is_dir())

    def staging(self, release: str) -> Path:
        """An empty folder to download `release` into (a leftover of a cut download is wiped)."""
        folder = self.staging_root / release
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def partial_clear(self) -> None:
        """Forget every partly downloaded target (after a release is in, or one did not verify)."""
        shutil.rmtree(self.partial, ignore_errors=True)
        self.partial.mkdir(parents=True, exist_ok=True)

    def commit(self, release: str) -> Path:
        """Move a complete, verified download from staging into its slot (not yet live)."""
        staged, slot = self.staging_root / release, self.slots / release
        if not staged.is_dir():
            raise SlotError(f"nothing staged for release {release!r}")
        _fsync_tree(staged)
        if slot.exists():
            # Never replace the slot that may be live: a re-download of it is already there.
            shutil.rmtree(staged)
            return slot
        os.rename(staged, slot)
        fsync_dir(self.slots)
        return slot

    def activate(self, release: str) -> None:
        """Make `release` live; the live one becomes `previous` (the rollback target)."""
        if not (self.slots / release).is_dir():
            raise SlotError(f"no slot for release {release!r}")
        live = self.live()
        if live == release:
            return
        if live is not None:
            self._point(PREVIOUS, live)
        self._point(CURRENT, release)

    def rollback(self) -> str:
        """Make the previous release live again; the release rolled back from is returned."""
        previous, live = self.previous(), self.live()
        if previous is None or not (self.slots / previous).is_dir():
            raise SlotError("no previous release to roll back to")
        self._point(CURRENT, previous)
        (self.root / PREVIOUS).unlink(missing_ok=True)
        fsync_dir(self.root)
        return live or ""

    def deactivate(self) -> None:
        """No release live: the site file's own model and config count again (a rollback of
        the first release a device took)."""
        (self.root / CURRENT).unlink(missing_ok=True)
        (self.root / PREVIOUS).unlink(missing_ok=True)
        fsync_dir(self.root)

    def discard(self, release: str) -> None:
        """Remove a slot that is neither live nor the rollback target."""
        if release in (self.live(), self.previous()):
            raise SlotError(f"release {release!r} is in use and cannot be removed")
        shutil.rmtree(self.slots / release, ignore_errors=True)

    def _target_of(self, name: str) -> str | None:
        link = self.root / name
        if not link.is_symlink():
            return None
        return Path(os.readlink(link)).name

    def _point(self, name: str, release: str) -> None:
        temporary = self.root / f".{name}.{os.getpid()}"
        temporary.unlink(missing_ok=True)
        os.symlink(Path("slots") / release, temporary)
        os.replace(temporary, self.root / name)
        fsync_dir(self.root)
