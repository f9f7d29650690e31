"""Shared fixtures: the offline backbone, tiny images, and a local HTTP server for download tests."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest
import torch

import helpers

ROOT = Path(__file__).resolve().parent.parent
PAINTINGS = ROOT.parent / "shared" / "paintings"


@pytest.fixture(scope="session")
def hed():
    return helpers.load_backbone("vgg16-hed", verbose=False)


@pytest.fixture(scope="session")
def transfer(hed):
    """One StyleTransfer on the offline backbone, shared by the loop tests."""
    return helpers.StyleTransfer(hed, device="cpu", verbose=False)


@pytest.fixture
def tiny_pair():
    """A 40 x 32 content photo and a style image, as tensors in [0, 1]."""
    return helpers.load_image("chelsea", 40), helpers.load_image("swirls", 40)


@pytest.fixture
def paintings_dir():
    if not PAINTINGS.is_dir():
        pytest.skip(f"the test paintings folder ../shared/paintings is absent (looked in {PAINTINGS.parent.name}/)")
    return PAINTINGS


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; paths under /cut/ send half of the file and then drop the connection."""

    requests: list[str]

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path.startswith("/cut/"):
            data = (Path(self.directory) / self.path[len("/cut/"):]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.close()
            return
        super().do_GET()


@pytest.fixture
def file_server():
    """Start a server on 127.0.0.1 for a folder; returns a function folder -> (base URL, server)."""
    servers = []

    def serve(folder: Path):
        handler = lambda *args, **kwargs: _Handler(*args, directory=str(folder), **kwargs)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.requests = []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", server

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
