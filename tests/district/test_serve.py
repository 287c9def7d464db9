"""The real `district serve` in its own process(es), spoken to over loopback as a kiosk
would: enroll, blobs (PUT and bundle), a batch, a decision, the change coming back."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from district.cli import main
from kiosk.sync.wire import bundle_frames, sign_request
from tests.district.conftest import ITEM, SAMPLE_CATALOG, public_key_b64
from tests.personal import NEVER_LOGGED

DISTRICT = Path(sys.executable).parent / "district"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(db_url: str, key_file: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    workers = "2" if db_url.startswith("postgresql") else "1"
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(DISTRICT), "--db", db_url, "--key-file", str(key_file), "serve",
         "--port", str(port), "--workers", workers],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                break
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("district serve did not answer")
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    text = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in text, text
    assert not [secret for secret in NEVER_LOGGED if secret in text], "personal data logged"


class Station:
    def __init__(self, http: httpx.Client, station_id: str, key: Ed25519PrivateKey) -> None:
        self.http, self.station_id, self.key = http, station_id, key

    def send(self, method: str, path: str, content: bytes = b"", **options: object):
        request = self.http.build_request(method, path, content=content, **options)
        request.headers.update(
            sign_request(self.key, self.station_id, method, request.url.raw_path.decode(),
                         content)
        )
        return self.http.send(request)


def test_a_kiosk_syncs_with_the_served_district(
    server: str, db_url: str, key_file: Path
) -> None:
    runner = CliRunner()
    base = ["--db", db_url, "--key-file", str(key_file)]
    added = json.loads(runner.invoke(main, [*base, "station", "add", "Loopback", "--json"]).stdout)
    assert runner.invoke(main, [*base, "catalog", "import", str(SAMPLE_CATALOG)]).exit_code == 0

    key = Ed25519PrivateKey.generate()
    with httpx.Client(base_url=server, timeout=30) as http:
        enrolled = http.post(
            "/v1/enroll",
            json={"code": added["enrollment_code"], "public_key": public_key_b64(key)},
        )
        assert enrolled.status_code == 200, enrolled.text
        station = Station(http, added["station_id"], key)

        images = [os.urandom(20_000) for _ in range(4)]
        hashes = [hashlib.sha256(image).hexdigest() for image in images]
        assert station.send("PUT", f"/v1/blobs/{hashes[0]}", images[0]).status_code == 201
        bundle = station.send("POST", "/v1/blobs:bundle",
                              bundle_frames(zip(hashes, images, strict=True)))
        assert bundle.json() == {"stored": hashes[1:], "present": hashes[:1]}

        application = {
            "id": "6f1c2a52-3b8e-4c1e-9d55-0a4b2c9e7f10",
            "reference": f"{added['station_code']}-20261124-0001",
            "item_code": ITEM,
            "created_at": "2026-11-24T09:30:00+08:00",
            "resident": {"name": "张三丰"},
            "materials": [
                {"sha256": h, "kind": "page", "media_type": "image/jpeg", "size": 20_000}
                for h in hashes[:2]
            ],
        }
        body = json.dumps({"applications": [application]}).encode()
        for _ in range(2):  # the second time is a kiosk retrying: nothing new
            answer = station.send("POST", "/v1/applications:batch", body,
                                  headers={"Content-Type": "application/json"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["results"][0]["verdict"] == "accepted"

        listed = json.loads(runner.invoke(main, [*base, "applications", "list", "--json"]).stdout)
        assert [(row["id"], row["blobs"]) for row in listed] == [(application["id"], hashes[:2])]
        result = runner.invoke(main, [*base, "applications", "set-state", application["id"],
                                      "accepted"])
        assert result.exit_code == 0, result.output

        changes = station.send("GET", "/v1/changes", params={"limit": 10}).json()
        assert [(c["application_id"], c["state"]) for c in changes["changes"]] == [
            (application["id"], "accepted")
        ]
        replay = http.build_request("GET", "/v1/changes")
        replay.headers.update(sign_request(key, added["station_id"], "GET", "/v1/changes", b""))
        assert http.send(replay).status_code == 200
        assert http.send(replay).json()["code"] == "replayed"
