"""scripts/system-deps.sh fetches OPA's release for the OPA-server conformance leg.

These machines cannot reach GitHub, so the fetch is exercised against a local HTTP
server laid out like a release: the binary, and its sha256 file beside it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import PROJECT

SCRIPT = PROJECT / "scripts" / "system-deps.sh"
BINARY = "opa_linux_amd64_static"
FAKE_OPA = b"#!/bin/sh\necho 'Version: 1.0.0'\n"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="the script fetches with curl, absent here")


class _Release:
    def __init__(self, root: Path, url: str, requests: list[str]) -> None:
        self.root, self.url, self.requests = root, url, requests

    def publish(self, binary: bytes, digest: str | None = None) -> None:
        (self.root / BINARY).write_bytes(binary)
        digest = digest or hashlib.sha256(binary).hexdigest()
        (self.root / f"{BINARY}.sha256").write_text(f"{digest}  {BINARY}\n")


@pytest.fixture
def release(tmp_path: Path) -> Iterator[_Release]:
    root = tmp_path / "release"
    root.mkdir()
    seen: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            seen.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield _Release(root, f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()


def _run(venv_bin: Path, release: _Release) -> subprocess.CompletedProcess[str]:
    # PATH without any `opa`, so the script has to fetch one
    env = {"PATH": "/usr/bin:/bin", "OPA_RELEASE_URL": release.url}
    return subprocess.run(["bash", str(SCRIPT), str(venv_bin), "opa"], env=env, capture_output=True, text=True,
                          timeout=60)


def test_opa_is_installed_into_the_virtualenv_when_its_sha256_matches(tmp_path: Path, release: _Release) -> None:
    release.publish(FAKE_OPA)
    venv_bin = tmp_path / "bin"
    venv_bin.mkdir()
    out = _run(venv_bin, release)
    assert out.returncode == 0, out.stderr
    assert f"installed OPA 1.0.0 into {venv_bin}/opa" in out.stdout
    assert (venv_bin / "opa").read_bytes() == FAKE_OPA
    assert subprocess.run([str(venv_bin / "opa")], capture_output=True, text=True).stdout == "Version: 1.0.0\n"
    # a second run finds it and fetches nothing
    fetched = len(release.requests)
    assert _run(venv_bin, release).returncode == 0
    assert len(release.requests) == fetched


def test_a_binary_whose_sha256_differs_is_not_installed(tmp_path: Path, release: _Release) -> None:
    release.publish(FAKE_OPA, digest="0" * 64)
    venv_bin = tmp_path / "bin"
    venv_bin.mkdir()
    out = _run(venv_bin, release)
    assert out.returncode == 0  # never fails the build: the leg skips and says why
    assert "sha256 did not match" in out.stdout and "will skip" in out.stdout
    assert not (venv_bin / "opa").exists()


def test_an_unreachable_release_leaves_nothing_behind(tmp_path: Path, release: _Release) -> None:
    venv_bin = tmp_path / "bin"
    venv_bin.mkdir()
    out = _run(venv_bin, release)  # nothing published: 404
    assert out.returncode == 0
    assert f"could not fetch OPA 1.0.0 from {release.url}" in out.stdout
    assert list(venv_bin.iterdir()) == []
