"""The device's check-in (`POST /api/v1/fleet/<region>/checkin`, signed like a batch): it says
what it runs and where its update stands, and hears which release it should run."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import requests

from edge_worker.fleet.download import Repository
from edge_worker.signing import signature

CHECKIN_SCHEMA = "junction.checkin/v1"


class CheckinRefused(Exception):
    """The platform refused the check-in; `status` and the platform's reason are kept."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status


@dataclass(frozen=True)
class Desired:
    release: str
    targets: dict[str, str]  # kind (model, config) -> TUF target path


def checkin(
    repository: Repository,
    *,
    installed: str,
    state: str,
    release: str = "",
    reason: str = "",
    timeout: float = 30.0,
) -> Desired | None:
    """Report, and return the release to run (None: keep what runs now)."""
    body = json.dumps(
        {
            "schema": CHECKIN_SCHEMA,
            "device_id": repository.device_id,
            "installed": installed,
            "state": state,
            "release": release,
            "reason": reason,
        }
    ).encode()
    stamp = int(time.time())
    response = requests.post(
        f"{repository.endpoint.rstrip('/')}/api/v1/fleet/{repository.region}/checkin",
        data=body,
        timeout=timeout,
        headers={
            "Content-Type": "application/json",
            "X-Junction-Device": repository.device_id,
            "X-Junction-Timestamp": str(stamp),
            "X-Junction-Signature": signature(repository.secret, stamp, body),
        },
    )
    if response.status_code != 200:
        raise CheckinRefused(response.status_code, response.text[:500])
    desired = response.json()["desired"]
    return None if desired is None else Desired(desired["release"], desired["targets"])
