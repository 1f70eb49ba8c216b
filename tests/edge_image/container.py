"""The edge image run the way an operator runs it, with the container tools these machines have.

`podman run` is refused by the sandbox (crun cannot set its rlimits), so each container here is
a buildah working container of the image, run with chroot isolation: the image's user, working
folder, environment and entry point, the volumes given, and the host's network and process
table (so a platform or a camera on the host's loopback is reachable, and the worker's process
can be sent SIGTERM as `docker stop` would).

The root filesystem is read-only, as with `docker run --read-only`: the container's overlay is
remounted read-only after the volumes' mount points are made. buildah itself needs /run for its
own bookkeeping, so /run is an empty folder of root's that the image's user cannot write to.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

STATUS_DIR = "/run/junction-test"
# buildah 1.28 cannot clean up after a command on a read-only root (it unlinks its
# /run/.containerenv there) and then exits 2 whatever the command did; so the command runs
# under this shell, which writes its real exit status to a file in a volume.
_WRAPPER = f'"$@"; echo $? > {STATUS_DIR}/status'


def buildah(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["buildah", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"buildah {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def image_config(image: str) -> dict:
    """The image's Docker configuration (user, entry point, health check, volumes ...)."""
    return json.loads(buildah("inspect", "--type", "image", image))["Docker"]["config"]


def image_user(image: str) -> tuple[int, int]:
    uid, _, gid = image_config(image)["User"].partition(":")
    return int(uid), int(gid or uid)


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str


class Container:
    """A working container of `image` with these volumes (host path -> (target, "ro"|"rw"))."""

    def __init__(self, image: str, workdir: Path, volumes: dict[Path, tuple[str, str]]):
        self.image = image
        self.config = image_config(image)
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.run_dir = workdir / "run"
        self.run_dir.mkdir(mode=0o755)
        self.status_dir = workdir / "status"
        self.status_dir.mkdir()
        os.chown(self.status_dir, *image_user(image))
        self.volumes = {
            **volumes,
            self.run_dir: ("/run", "rw"),
            self.status_dir: (STATUS_DIR, "rw"),
        }
        self.running: list[Running] = []
        self.id = buildah("from", "--pull=never", "--quiet", image).strip()
        try:
            # A volume given here replaces the image's own at that path, as with `docker run -v`
            # (buildah 1.28 would mount a fresh anonymous volume over it instead).
            for target in self.config.get("Volumes") or {}:
                if target in {t for t, _mode in self.volumes.values()}:
                    buildah("config", "--volume", f"{target}-", self.id)
            self.root = Path(buildah("mount", self.id).strip())
            for source, (target, _mode) in self.volumes.items():
                point = self.root / target.lstrip("/")
                if target.startswith("/run/") or point.exists():
                    continue
                if source.is_dir():
                    point.mkdir(parents=True)
                else:
                    point.parent.mkdir(parents=True, exist_ok=True)
                    point.touch()
            subprocess.run(["mount", "-o", "remount,ro", str(self.root)], check=True)
        except BaseException:
            self.remove()
            raise

    def command(self, *args: str, env: dict[str, str] | None = None) -> list[str]:
        """buildah run of the image's entry point with `args` (its CMD when none)."""
        argv = [*self.config["Entrypoint"], *(args or self.config["Cmd"])]
        return self.exec_command(*argv, env=env)

    def exec_command(self, *argv: str, env: dict[str, str] | None = None) -> list[str]:
        """buildah run of `argv` itself, as the image's user."""
        command = ["buildah", "run", "--isolation", "chroot"]
        for source, (target, mode) in self.volumes.items():
            command += ["--volume", f"{source}:{target}:{mode}"]
        for name, value in (env or {}).items():
            command += ["--env", f"{name}={value}"]
        return [*command, self.id, "--", "/bin/sh", "-c", _WRAPPER, "sh", *argv]

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Result:
        return self._finish(self.command(*args, env=env), timeout)

    def exec(self, *argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
        return self._finish(self.exec_command(*argv, env=env), timeout)

    def start(self, *args: str, log: Path, env: dict[str, str] | None = None) -> Running:
        self._clear_status()
        with log.open("a") as out:
            process = subprocess.Popen(
                self.command(*args, env=env), stdout=out, stderr=subprocess.STDOUT
            )
        self.running.append(Running(self, process, log))
        return self.running[-1]

    def status(self) -> int | None:
        path = self.status_dir / "status"
        text = path.read_text().strip() if path.exists() else ""
        return int(text) if text else None

    def remove(self) -> None:
        """Kill what still runs in the container (a test that failed half-way), then remove it."""
        for running in self.running:
            if running.alive():
                running.kill()
        subprocess.run(["buildah", "umount", self.id], capture_output=True, check=False)
        subprocess.run(["buildah", "rm", self.id], capture_output=True, check=False)

    def _finish(self, command: list[str], timeout: float) -> Result:
        self._clear_status()
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        status = self.status()
        if status is None:
            raise RuntimeError(f"the command did not run ({done.returncode}): {done.stderr}")
        return Result(status, done.stdout, _without_buildah_noise(done.stderr))

    def _clear_status(self) -> None:
        (self.status_dir / "status").unlink(missing_ok=True)


class Running:
    """A command running in a container; `terminate` is `docker stop`'s SIGTERM to it."""

    def __init__(self, container: Container, process: subprocess.Popen, log: Path):
        self.container = container
        self.process = process
        self.log = log

    def pid(self) -> int | None:
        """The command's process: the child of the status-writing shell, on the host's table."""
        for pid in _descendants(self.process.pid):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[1:3] == [b"-c", _WRAPPER.encode()]:
                children = _children(pid)
                return children[0] if children else None
        return None

    def terminate(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while (pid := self.pid()) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the container's command is gone:\n{self.output()}")
            time.sleep(0.1)
        os.kill(pid, signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        self.process.wait(timeout=timeout)
        status = self.container.status()
        if status is None:
            raise RuntimeError(f"no exit status from the container:\n{self.output()}")
        return status

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        # The worker's camera processes die with it (they ask for SIGKILL when it dies).
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def output(self) -> str:
        return _without_buildah_noise(self.log.read_text())[-5000:]


def tools_missing() -> str | None:
    """Why the image cannot be run here, or None."""
    if shutil.which("buildah") is None:
        return "buildah is not installed (apt-get install buildah podman mmdebstrap)"
    if os.geteuid() != 0:
        return "running the image with buildah's chroot isolation needs root"
    return None


def image_missing(image: str) -> str | None:
    if not image:
        return "JUNCTION_EDGE_IMAGE is not set (`make test-edge-image` builds and names it)"
    done = subprocess.run(
        ["buildah", "inspect", "--type", "image", image], capture_output=True, check=False
    )
    if done.returncode != 0:
        return f"no image {image}: build it with `make edge-image`"
    return None


def _children(pid: int) -> list[int]:
    """Children of any of the process's threads (buildah, in Go, forks from any of them)."""
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in children.read_text().split()]
        except OSError:
            continue  # the thread ended while we looked
    return found


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        children = _children(todo.pop(0))
        found += children
        todo += children
    return found


def _without_buildah_noise(text: str) -> str:
    """buildah's own panic in its clean-up (see _WRAPPER) is not the command's output."""
    head, _, _ = text.partition("panic: runtime error")
    return head
