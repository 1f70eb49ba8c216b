"""Downloads with resume (issue 12 item 4): the platform answers a target's `Range` request with
the rest of the file, and a device whose download was cut asks only for the bytes it lacks;
what it had kept is verified with the rest, and bytes that do not verify are thrown away."""

from __future__ import annotations

import pytest
import requests

from edge_worker.fleet.download import Repository, VerificationFailed, release_fetch
from edge_worker.fleet.slots import Slots
from junction.fleet.models import RepoMetadata, TargetBlob
from tests.platform.fleet.conftest import publish, repo_get

live = pytest.mark.django_db(transaction=True, databases="__all__")
PATCH = "v2/site-patch.yaml"


def target_url(region: str = "eu-west", path: str = PATCH) -> str:
    blob = TargetBlob.objects.in_region(region).get(path=path)
    folder, name = path.rsplit("/", 1)
    return f"/api/v1/fleet/{region}/targets/{folder}/{blob.sha256}.{name}"


@pytest.fixture
def patch_bytes(eu_repo, config_patch, clean_cache) -> bytes:
    publish("v2", config=config_patch)
    # As signed: the patch as release_publish stored it, not the operator's file.
    return bytes(TargetBlob.objects.in_region("eu-west").get(path=PATCH).content)


@pytest.mark.parametrize(
    ("asked", "status", "content_range", "part"),
    [
        ("", 200, None, slice(None)),
        ("bytes=10-", 206, "bytes 10-{last}/{length}", slice(10, None)),
        ("bytes=0-9", 206, "bytes 0-9/{length}", slice(0, 10)),
        ("bytes=5-100000", 206, "bytes 5-{last}/{length}", slice(5, None)),
        # Served whole, as RFC 9110 allows: suffix ranges, several ranges, nonsense.
        ("bytes=-10", 200, None, slice(None)),
        ("bytes=0-4,10-14", 200, None, slice(None)),
        ("bytes=9-3", 200, None, slice(None)),
        ("items=0-4", 200, None, slice(None)),
    ],
)
def test_it_serves_the_part_of_a_target_a_range_asks_for(
    client, eu_device, patch_bytes, asked, status, content_range, part
):
    extra = {"HTTP_RANGE": asked} if asked else {}
    answer = repo_get(client, eu_device, target_url(), **extra)
    assert answer.status_code == status
    assert answer.content == patch_bytes[part]
    assert answer["Accept-Ranges"] == "bytes"
    length = len(patch_bytes)
    expected = content_range.format(last=length - 1, length=length) if content_range else None
    assert answer.get("Content-Range") == expected


def test_a_range_past_the_end_is_a_416_saying_the_length(client, eu_device, patch_bytes):
    length = len(patch_bytes)
    answer = repo_get(client, eu_device, target_url(), HTTP_RANGE=f"bytes={length}-")
    assert answer.status_code == 416
    assert answer["Content-Range"] == f"bytes */{length}"
    assert answer.json()["error"] == "range_not_satisfiable"


def test_a_range_on_a_target_the_repository_lacks_is_still_a_404(client, eu_device, eu_repo):
    path = f"/api/v1/fleet/eu-west/targets/v9/{'0' * 64}.site-patch.yaml"
    answer = repo_get(client, eu_device, path, HTTP_RANGE="bytes=10-")
    assert answer.status_code == 404


# --- the device's side, against a live platform ----------------------------------------------


class Wire:
    """Records every target request and what came over the wire; can cut a download after
    `cut_after` bytes of one answer, as a dropped cellular link does."""

    def __init__(self, monkeypatch) -> None:
        self.requests: list[tuple[str | None, int, int]] = []  # (Range, status, bytes)
        self.cut_after: int | None = None
        original = requests.Session.get
        wire = self

        def get(session, url, **kwargs):
            response = original(session, url, **kwargs)
            if "/targets/" not in url:
                return response
            record = [kwargs["headers"].get("Range"), response.status_code, 0]
            wire.requests.append(record)  # type: ignore[arg-type]
            chunks = response.iter_content

            def iter_content(size=1, decode_unicode=False):
                for chunk in chunks(1024):
                    if wire.cut_after is not None and record[2] + len(chunk) > wire.cut_after:
                        wire.cut_after = None
                        raise requests.ConnectionError("link dropped")
                    record[2] += len(chunk)
                    yield chunk

            response.iter_content = iter_content
            return response

        monkeypatch.setattr(requests.Session, "get", get)


@pytest.fixture
def device_repo(live_server, eu_repo, eu_device, tmp_path, clean_cache) -> Repository:
    root = tmp_path / "root.json"
    root.write_bytes(
        bytes(RepoMetadata.objects.in_region("eu-west").get(role="root", version=1).data)
    )
    return Repository(
        endpoint=live_server.url,
        region="eu-west",
        device_id=eu_device.device_id,
        secret=eu_device.secret,
        trusted_root=root,
        metadata_dir=tmp_path / "metadata",
    )


@live
def test_a_cut_download_resumes_where_it_stopped(device_repo, model_path, tmp_path, monkeypatch):
    publish("v2", model=model_path)
    targets = {"model": "v2/model.onnx"}
    size = model_path.stat().st_size
    slots = Slots(tmp_path / "device")
    wire = Wire(monkeypatch)
    wire.cut_after = size // 3

    with pytest.raises(requests.ConnectionError):
        release_fetch(device_repo, slots, release="v2", targets=targets)
    assert slots.releases() == []
    [kept] = list(slots.partial.iterdir())
    had = kept.stat().st_size
    assert 0 < had <= size // 3

    slot = release_fetch(device_repo, slots, release="v2", targets=targets)
    assert (slot / "model.onnx").read_bytes() == model_path.read_bytes()
    first, second = wire.requests
    assert first == [None, 200, had]
    assert second == [f"bytes={had}-", 206, size - had]  # only what it lacked
    assert list(slots.partial.iterdir()) == []  # nothing left to resume


@live
def test_kept_bytes_that_do_not_verify_are_thrown_away_and_fetched_afresh(
    device_repo, model_path, tmp_path, monkeypatch
):
    publish("v2", model=model_path)
    targets = {"model": "v2/model.onnx"}
    slots = Slots(tmp_path / "device")
    wire = Wire(monkeypatch)
    wire.cut_after = 100_000
    with pytest.raises(requests.ConnectionError):
        release_fetch(device_repo, slots, release="v2", targets=targets)
    [kept] = list(slots.partial.iterdir())
    kept.write_bytes(b"\0" * kept.stat().st_size)  # a flash card that lost its data

    with pytest.raises(VerificationFailed, match="LengthOrHashMismatch"):
        release_fetch(device_repo, slots, release="v2", targets=targets)
    assert list(slots.partial.iterdir()) == [] and slots.releases() == []

    slot = release_fetch(device_repo, slots, release="v2", targets=targets)
    assert (slot / "model.onnx").read_bytes() == model_path.read_bytes()
    assert wire.requests[-1] == [None, 200, model_path.stat().st_size]


def _power_cut(self, release: str):
    raise OSError("power cut")


@live
def test_a_download_whose_every_byte_was_kept_asks_for_no_more(
    device_repo, config_patch, tmp_path, monkeypatch
):
    publish("v2", config=config_patch)
    slots = Slots(tmp_path / "device")
    # Cut after the last byte arrived, before the release was committed to its slot.
    monkeypatch.setattr(Slots, "commit", _power_cut)
    with pytest.raises(OSError, match="power cut"):
        release_fetch(device_repo, slots, release="v2", targets={"config": PATCH})
    monkeypatch.undo()
    wire = Wire(monkeypatch)

    slot = release_fetch(device_repo, slots, release="v2", targets={"config": PATCH})
    signed = bytes(TargetBlob.objects.in_region("eu-west").get(path=PATCH).content)
    assert (slot / "site-patch.yaml").read_bytes() == signed
    assert wire.requests == [[f"bytes={len(signed)}-", 416, 0]]
