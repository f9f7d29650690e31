"""Shared fixtures: the offline backbone, tiny images, and a local HTTP server for download tests."""

from __future__ import annotations

import http.server
import threading
import time
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
    """Serves a folder, and misbehaves on request (for the download tests) under these paths:

    /cut/F        announces F's size, sends half of it and drops the connection
    /trickle/F    announces F's size and sends one byte every 0.1 s
    /silent/F     accepts the connection and never answers
    /huge/        announces 10 GB and streams zeros
    /endless/     announces nothing and streams zeros
    /badlength/F  sends F with the Content-Length "lots"
    /flaky/F      answers 503 to the first two requests for it, then sends F
    /reset/F      drops the first connection for it without an answer, then sends F
    /loop/        redirects to itself
    """

    requests: list[str]
    MISBEHAVIOUR_SECONDS = 20  # every misbehaving answer ends by then, so no thread outlives the tests long

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        route, _, name = self.path.lstrip("/").partition("/")
        handler = getattr(self, f"_{route}", None)
        if route in ("cut", "trickle", "silent", "huge", "endless", "badlength", "flaky", "reset", "loop"):
            try:
                handler(name)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                self.close_connection = True
            return
        super().do_GET()

    def _file(self, name: str) -> bytes:
        return (Path(self.directory) / name).read_bytes()

    def _headers(self, length: str | None, status: int = 200):
        self.send_response(status)
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()

    def _cut(self, name):
        data = self._file(name)
        self._headers(str(len(data)))
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.connection.close()

    def _trickle(self, name):
        data = self._file(name)
        self._headers(str(len(data)))
        end = time.monotonic() + self.MISBEHAVIOUR_SECONDS
        for byte in data:
            if time.monotonic() > end:
                break
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.1)

    def _silent(self, name):
        time.sleep(self.MISBEHAVIOUR_SECONDS)

    def _zeros(self, length):
        self._headers(length)
        end, chunk = time.monotonic() + self.MISBEHAVIOUR_SECONDS, bytes(1 << 16)
        while time.monotonic() < end:
            self.wfile.write(chunk)

    def _huge(self, name):
        self._zeros(str(10**10))

    def _endless(self, name):
        self._zeros(None)

    def _badlength(self, name):
        data = self._file(name)
        self._headers("lots")
        self.wfile.write(data)

    def _flaky(self, name):
        if self.server.requests.count(self.path) <= 2:
            self._headers("0", status=503)
            return
        data = self._file(name)
        self._headers(str(len(data)))
        self.wfile.write(data)

    def _loop(self, name):
        self.send_response(302)
        self.send_header("Location", self.path)
        self.end_headers()

    def _reset(self, name):
        if self.server.requests.count(self.path) <= 1:
            self.connection.close()
            return
        data = self._file(name)
        self._headers(str(len(data)))
        self.wfile.write(data)


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
