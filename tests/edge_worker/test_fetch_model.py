"""fetch-model: pinned digest, temp file, refusal and clean-up on mismatch (local server only)."""

from __future__ import annotations

import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from edge_worker.__main__ import main
from edge_worker.commands.fetch_model import OFFICIAL_SHA256, OFFICIAL_URL

PAYLOAD = b"onnx-ish bytes " * 1000


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "www"
    folder.mkdir()
    (folder / "yolox_nano.onnx").write_bytes(PAYLOAD)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/yolox_nano.onnx"
    server.shutdown()
    server.server_close()
    thread.join()


def test_it_pins_the_official_release():
    assert OFFICIAL_URL.endswith("/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx")
    assert OFFICIAL_SHA256 == "c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d"


def test_it_installs_a_download_whose_digest_matches(tmp_path, served, capsys):
    dest = tmp_path / "models" / "yolox_nano.onnx"
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert main(["fetch-model", "--dest", str(dest), "--url", served, "--sha256", digest]) == 0
    assert dest.read_bytes() == PAYLOAD
    assert list(dest.parent.iterdir()) == [dest]
    assert main(["fetch-model", "--dest", str(dest), "--url", served, "--sha256", digest]) == 0
    assert "already" in capsys.readouterr().out


def test_it_refuses_and_deletes_a_download_with_another_digest(tmp_path, served, capsys):
    dest = tmp_path / "models" / "yolox_nano.onnx"
    assert main(["fetch-model", "--dest", str(dest), "--url", served]) == 1
    assert "refused" in capsys.readouterr().err
    assert list(dest.parent.iterdir()) == []


def test_it_keeps_an_existing_model_when_the_download_fails(tmp_path, served):
    dest = tmp_path / "yolox_nano.onnx"
    dest.write_bytes(b"previous model")
    assert main(["fetch-model", "--dest", str(dest), "--url", served + ".missing"]) == 1
    assert dest.read_bytes() == b"previous model"
