"""The served repository is a real TUF repository: python-tuf's own client (`ngclient.Updater`),
pointed at a live server's per-region metadata, installs a published target and refuses a
tampered target, an expired timestamp, an older snapshot played back and a foreign key."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management.base import CommandError
from django.utils import timezone
from securesystemslib.signer import CryptoSigner
from tuf.api import exceptions
from tuf.api.metadata import Metadata, MetaFile, Snapshot, Targets, Timestamp
from tuf.ngclient import FetcherInterface, Updater

from junction.fleet.keys import signers_load
from junction.fleet.models import RepoMetadata, TargetBlob
from junction.fleet.tasks import refresh_metadata
from junction.residency.planes import served_alias
from tests.platform.fleet.conftest import command_json, publish, signed_headers

live = pytest.mark.django_db(transaction=True, databases="__all__")
REGION = "eu-west"


class SignedFetcher(FetcherInterface):
    """ngclient's downloads, each signed as the device (the repository is not public)."""

    def __init__(self, device) -> None:
        self.device = device

    def _fetch(self, url: str):
        path = urlsplit(url).path
        response = requests.get(
            url,
            stream=True,
            timeout=10,
            headers=signed_headers(self.device, f"GET {path}".encode()),
        )
        if response.status_code >= 400:
            raise exceptions.DownloadHTTPError(
                f"{response.status_code} for {path}", response.status_code
            )
        return response.iter_content(1 << 16)


def _latest(role: str) -> Metadata:
    row = RepoMetadata.objects.in_region(REGION).filter(role=role).order_by("-version")[0]
    return Metadata.from_bytes(bytes(row.data))


def _store(metadata: Metadata, *signers) -> None:
    for signer in signers:
        metadata.sign(signer, append=True)
    RepoMetadata(
        region=REGION,
        role=metadata.signed.type,
        version=metadata.signed.version,
        expires=metadata.signed.expires,
        data=metadata.to_bytes(),
    ).save(using=served_alias(REGION))


def _timestamp(*, snapshot_version: int, expires_in: timedelta, signer=None) -> None:
    version = _latest("timestamp").signed.version + 1
    expires = (timezone.now() + expires_in).replace(microsecond=0)
    _store(
        Metadata(
            Timestamp(
                version=version, expires=expires, snapshot_meta=MetaFile(version=snapshot_version)
            )
        ),
        signer or signers_load(REGION, "timestamp")[0],
    )


@pytest.fixture
def updater(live_server, eu_repo, eu_device, tmp_path, clean_cache):
    return _updater_factory(live_server, eu_device, tmp_path)


def _updater_factory(live_server, eu_device, tmp_path):
    def make() -> Updater:
        base = f"{live_server.url}/api/v1/fleet/{REGION}"
        root = RepoMetadata.objects.in_region(REGION).get(role="root", version=1)
        (tmp_path / "targets").mkdir(exist_ok=True)
        return Updater(
            metadata_dir=str(tmp_path),
            metadata_base_url=f"{base}/metadata/",
            target_dir=str(tmp_path / "targets"),
            target_base_url=f"{base}/targets/",
            fetcher=SignedFetcher(eu_device),
            bootstrap=bytes(root.data),
        )

    return make


@live
def test_it_installs_a_published_model_verified_by_ngclient(
    updater, model_path, config_patch, tmp_path
):
    publish("v2", model=model_path, config=config_patch)
    client = updater()
    client.refresh()

    info = client.get_targetinfo("v2/model.onnx")
    assert info is not None and info.custom["input_size"] == [416, 416]
    downloaded = client.download_target(info)
    assert open(downloaded, "rb").read() == model_path.read_bytes()
    assert client.get_targetinfo("v2/site-patch.yaml").custom["kind"] == "config"


@live
def test_it_refuses_a_target_changed_after_signing(updater, config_patch, tmp_path):
    publish("v2", config=config_patch)
    blob = TargetBlob.objects.in_region(REGION).get(path="v2/site-patch.yaml")
    tampered = bytearray(blob.content)
    tampered[0] ^= 0x01
    TargetBlob.objects.in_region(REGION).filter(pk=blob.pk).update(content=bytes(tampered))
    client = updater()
    client.refresh()

    with pytest.raises(exceptions.LengthOrHashMismatchError):
        client.download_target(client.get_targetinfo("v2/site-patch.yaml"))
    assert not list((tmp_path / "targets").iterdir())


@live
def test_it_refuses_an_expired_timestamp(updater):
    _timestamp(snapshot_version=_latest("snapshot").signed.version, expires_in=timedelta(hours=-1))

    with pytest.raises(exceptions.ExpiredMetadataError):
        updater().refresh()


@live
def test_it_refuses_a_timestamp_signed_by_a_key_root_does_not_trust(updater):
    _timestamp(
        snapshot_version=_latest("snapshot").signed.version,
        expires_in=timedelta(hours=6),
        signer=CryptoSigner.generate_ed25519(),
    )

    with pytest.raises(exceptions.UnsignedMetadataError):
        updater().refresh()


@live
def test_it_refuses_targets_signed_by_a_key_root_does_not_trust(updater):
    targets = _latest("targets")
    forged = Targets(
        version=targets.signed.version + 1,
        expires=targets.signed.expires,
        targets=targets.signed.targets,
    )
    _store(Metadata(forged), CryptoSigner.generate_ed25519())
    snapshot = _latest("snapshot")
    _store(
        Metadata(
            Snapshot(
                version=snapshot.signed.version + 1,
                expires=snapshot.signed.expires,
                meta={"targets.json": MetaFile(version=forged.version)},
            )
        ),
        signers_load(REGION, "snapshot")[0],
    )
    _timestamp(snapshot_version=snapshot.signed.version + 1, expires_in=timedelta(hours=6))

    with pytest.raises(exceptions.UnsignedMetadataError):
        updater().refresh()


@live
def test_it_refuses_an_older_snapshot_played_back(updater, config_patch):
    client = updater()
    client.refresh()
    publish("v2", config=config_patch)  # snapshot 2, then the attacker serves 1 again
    client = updater()
    client.refresh()
    _timestamp(snapshot_version=1, expires_in=timedelta(hours=6))

    with pytest.raises(exceptions.BadVersionNumberError):
        updater().refresh()


@live
def test_the_beat_task_renews_a_timestamp_before_it_expires(updater):
    _timestamp(snapshot_version=_latest("snapshot").signed.version, expires_in=timedelta(hours=1))
    before = _latest("timestamp").signed.version

    assert refresh_metadata(region=REGION) == ["timestamp"]
    assert refresh_metadata(region=REGION) == []  # fresh now: nothing re-signed twice
    assert _latest("timestamp").signed.version == before + 1
    updater().refresh()


@live
@pytest.mark.parametrize("role", ["root", "targets", "snapshot", "timestamp"])
def test_a_device_follows_a_key_rotation_through_the_new_root(updater, config_patch, role):
    publish("v1", config=config_patch)
    client = updater()
    client.refresh()
    old_key = signers_load(REGION, role)[0]

    command_json("fleet_key_rotate", "--region", REGION, "--role", role)
    rotated = updater()  # the same trusted metadata: it must walk to root v2 on its own
    rotated.refresh()
    assert rotated.get_targetinfo("v1/site-patch.yaml") is not None
    assert _latest("root").signed.version == 2
    assert old_key.public_key.keyid not in _latest("root").signed.roles[role].keyids

    if role == "timestamp":
        # What the retired key signs now is refused.
        _timestamp(
            snapshot_version=_latest("snapshot").signed.version,
            expires_in=timedelta(hours=6),
            signer=old_key,
        )
        with pytest.raises(exceptions.UnsignedMetadataError):
            updater().refresh()


@pytest.fixture
def strict_repo(eu_west, fleet_keys):
    """Three root keys of which two must sign, and two targets keys that must both sign."""
    return command_json(
        "fleet_init",
        "--region",
        REGION,
        *("--root-keys", "3", "--root-threshold", "2"),
        *("--targets-keys", "2", "--targets-threshold", "2"),
    )["repositories"][0]


@live
def test_roles_get_their_own_key_counts_and_thresholds_and_the_repository_meets_them(
    strict_repo, live_server, eu_device, tmp_path, clean_cache, config_patch
):
    assert strict_repo["thresholds"] == {"root": 2, "targets": 2, "snapshot": 1, "timestamp": 1}
    roles = _latest("root").signed.roles
    assert (len(roles["root"].keyids), roles["root"].threshold) == (3, 2)
    assert (len(roles["targets"].keyids), roles["targets"].threshold) == (2, 2)
    publish("v1", config=config_patch)
    assert len(_latest("targets").signatures) == 2

    client = _updater_factory(live_server, eu_device, tmp_path)()
    client.refresh()
    assert client.get_targetinfo("v1/site-patch.yaml") is not None


@live
def test_targets_signed_by_one_key_of_a_two_key_threshold_are_refused(
    strict_repo, live_server, eu_device, tmp_path, clean_cache
):
    # One stolen targets key: a release signed with it alone must not install.
    targets = _latest("targets")
    forged = Targets(
        version=targets.signed.version + 1,
        expires=targets.signed.expires,
        targets=targets.signed.targets,
    )
    _store(Metadata(forged), signers_load(REGION, "targets")[0])
    snapshot = _latest("snapshot")
    _store(
        Metadata(
            Snapshot(
                version=snapshot.signed.version + 1,
                expires=snapshot.signed.expires,
                meta={"targets.json": MetaFile(version=forged.version)},
            )
        ),
        signers_load(REGION, "snapshot")[0],
    )
    _timestamp(snapshot_version=snapshot.signed.version + 1, expires_in=timedelta(hours=6))

    with pytest.raises(exceptions.UnsignedMetadataError):
        _updater_factory(live_server, eu_device, tmp_path)().refresh()


def test_a_threshold_above_the_role_s_keys_is_refused_before_any_key_is_made(eu_west, fleet_keys):
    with pytest.raises(CommandError, match="the targets threshold 3 must be between 1 and"):
        command_json("fleet_init", "--region", REGION, "--targets-threshold", "3")
    assert not (fleet_keys / "offline").exists()
