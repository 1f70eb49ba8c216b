"""The site file: strict keys with their paths, secrets, endpoints, model digest at start."""

from __future__ import annotations

import copy
import hashlib

import pytest
import yaml

from edge_worker.config import ConfigError, load_config, verify_model_digest

MODEL_BYTES = b"not really an onnx file, but bytes with a digest"


@pytest.fixture
def site(tmp_path):
    (tmp_path / "model.onnx").write_bytes(MODEL_BYTES)
    (tmp_path / "clip.mp4").write_bytes(b"\x00")
    (tmp_path / "secret").write_text("s3cret\n")
    return {
        "device_id": "dev-main-5th-n",
        "site": "main-and-5th",
        "region": "eu-west",
        "endpoint": "https://eu-west.junction.example",
        "allowed_endpoints": ["https://us-east.junction.example"],
        "secret_file": "secret",
        "model": {"path": "model.onnx", "sha256": hashlib.sha256(MODEL_BYTES).hexdigest()},
        "bucket_seconds": 60,
        "spool": {"path": "spool/outbox.db"},
        "cameras": [
            {
                "name": "north",
                "source": "clip.mp4",
                "stride": 5,
                "lines": [{"name": "north-stopline", "points": [[150, 200], [600, 200]]}],
                "zones": [{"name": "crosswalk-north", "polygon": [[0, 0], [10, 0], [10, 10]]}],
                "movements": [],
            }
        ],
    }


def write(tmp_path, data) -> str:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_it_loads_a_valid_site_file_with_paths_from_its_folder(tmp_path, site):
    config = load_config(write(tmp_path, site))
    assert config.model.path == tmp_path / "model.onnx"
    assert config.spool.path == tmp_path / "spool" / "outbox.db"
    assert config.cameras[0].source == str(tmp_path / "clip.mp4")
    assert config.cameras[0].is_file
    assert config.read_secret() == "s3cret"
    verify_model_digest(config.model)


def change(data: dict, path: str, value) -> dict:
    data = copy.deepcopy(data)
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is DELETE:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


DELETE = object()


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("endpiont", "https://x.example", "endpiont: Extra inputs are not permitted"),
        ("cameras.0.strdie", 2, "cameras.0.strdie: Extra inputs are not permitted"),
        (
            "cameras.0.lines.0.nmae",
            "x",
            "cameras.0.lines.0.nmae: Extra inputs are not permitted",
        ),
        ("spool.max_byte", 10, "spool.max_byte: Extra inputs are not permitted"),
        ("cameras.0.stride", 0, "cameras.0.stride: Input should be greater than or equal to 1"),
        ("bucket_seconds", 7, "bucket_seconds: Value error, must divide a day"),
        ("cameras.0.source", "ftp://cam/1", "cameras.0.source: Value error, stream scheme"),
        ("cameras.0.source", "missing.mp4", "cameras.0.source: Value error, no video file"),
        ("endpoint", "http://eu-west.junction.example", "endpoint: Value error"),
        ("model.sha256", "ABC", "model.sha256: String should match pattern"),
        ("secret", "inline", "an inline secret is not allowed"),
        ("secret_env", "JUNCTION_SECRET", "give exactly one of secret_file or secret_env"),
        ("secret_file", DELETE, "give exactly one of secret_file or secret_env"),
        ("classes", ["car", "tram"], "classes.1: Input should be"),
        ("cameras.0.timeline_start", "2026-11-27T06:00:00", "cameras.0.timeline_start"),
        ("cameras.0.detector", {"provder": "cuda"}, "cameras.0.detector.provder: Extra inputs"),
        ("uplink", {"ca_file": "missing.pem"}, "uplink.ca_file: Value error, no CA bundle"),
    ],
)
def test_it_names_the_path_of_a_bad_key(tmp_path, site, path, value, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, change(site, path, value)))
    assert message in str(caught.value)


def test_it_refuses_counter_names_repeated_across_cameras(tmp_path, site):
    site["cameras"].append({**copy.deepcopy(site["cameras"][0]), "name": "south"})
    with pytest.raises(ConfigError, match="unique across cameras"):
        load_config(write(tmp_path, site))


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://localhost:8000", "rtsp://cam.local/stream1"]
)
def test_it_accepts_loopback_http_endpoints_and_stream_sources(tmp_path, site, url):
    if url.startswith("rtsp"):
        site["cameras"][0]["source"] = url
        assert not load_config(write(tmp_path, site)).cameras[0].is_file
    else:
        site["endpoint"] = url
        assert load_config(write(tmp_path, site)).endpoint == url


def test_it_fails_at_start_with_a_clear_message_on_a_bad_model_digest(tmp_path, site):
    site["model"]["sha256"] = "0" * 64
    config = load_config(write(tmp_path, site))
    with pytest.raises(ConfigError) as caught:
        verify_model_digest(config.model)
    message = str(caught.value)
    assert "model.sha256" in message and hashlib.sha256(MODEL_BYTES).hexdigest() in message
    assert "0" * 64 in message


def test_it_reads_the_secret_from_the_environment_afresh(tmp_path, site, monkeypatch):
    site = change(site, "secret_file", DELETE)
    site["secret_env"] = "JUNCTION_TEST_SECRET"
    config = load_config(write(tmp_path, site))
    monkeypatch.setenv("JUNCTION_TEST_SECRET", "one")
    assert config.read_secret() == "one"
    monkeypatch.setenv("JUNCTION_TEST_SECRET", "two")
    assert config.read_secret() == "two"
    monkeypatch.delenv("JUNCTION_TEST_SECRET")
    with pytest.raises(ConfigError, match="JUNCTION_TEST_SECRET"):
        config.read_secret()


@pytest.mark.parametrize(
    "text, message", [("a: [1", "not valid YAML"), ("- 1\n- 2\n", "must hold a mapping")]
)
def test_it_reports_unreadable_site_files(tmp_path, text, message):
    path = tmp_path / "site.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_validate_config_prints_ok_for_a_good_file(tmp_path, site, capsys):
    from edge_worker.__main__ import main

    assert main(["validate-config", "--config", write(tmp_path, site)]) == 0
    assert capsys.readouterr().out.strip() == "ok"


def test_validate_config_prints_the_path_of_the_error(tmp_path, site, capsys):
    from edge_worker.__main__ import main

    bad = change(site, "cameras.0.lines.0.nmae", "x")
    assert main(["validate-config", "--config", write(tmp_path, bad)]) == 1
    assert "cameras.0.lines.0.nmae: Extra inputs are not permitted" in capsys.readouterr().err


def test_the_documented_example_site_file_is_valid():
    config = load_config("examples/site.yaml")
    assert [c.name for c in config.cameras] == ["north"]
    assert config.cameras[0].movements[0].name == "N>E"
