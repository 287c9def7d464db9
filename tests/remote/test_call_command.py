"""`kiosk call`: the kiosk's peer in a process of its own, on the simulated camera,
against a district played by the test and an aiortc agent: its JSON lines, media by
content (the --stamp code), chat both ways, a capture answered, SIGTERM ending the call."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import cv2
import numpy as np

from kiosk.config import Paths
from kiosk.remote import protocol
from kiosk.store.db import Store
from kiosk.store.models import SyncInfo
from kiosk.sync.keys import StationKey
from tests.remote.agent import Answerer, wait_for
from tests.remote.fake_district import FakeDistrict

KIOSK = str(Path(sys.executable).with_name("kiosk"))
CONFIG = """
[devices]
camera = "simulator"
document_camera = "simulator"

[camera]
fps = 30
"""


def station(folder: Path, server_url: str | None) -> list[str]:
    paths = Paths(folder)
    store = Store.open(paths)
    StationKey.load_or_create(paths)
    if server_url is not None:
        with store.write() as session:
            session.add(SyncInfo(id=1, server_url=server_url, station_id=str(uuid.uuid4())))
    store.close()
    (folder / "kiosk.toml").write_text(CONFIG, encoding="utf-8")
    return [KIOSK, "--data-dir", str(folder), "call", "--item", "MI-001", "--title", "医保"]


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_a_call_from_the_command_line(tmp_path: Path) -> None:
    async def run() -> tuple[int, str, str]:
        async with FakeDistrict() as district:
            command = station(tmp_path, district.url)
            process = await asyncio.create_subprocess_exec(
                *command,
                "--answer-captures",
                "--chat",
                "我听不清",
                "--stamp",
                "--stats",
                "--seconds",
                "300",
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            agent = Answerer()
            try:
                request = await district.expect(protocol.CallRequest, timeout=60)
                call = request.call
                assert request.source == "staff" and request.item_title == "医保"
                await district.send(protocol.Assigned(call=call, agent="Agent Li"))
                offer = await district.expect(protocol.Offer, timeout=60)
                await district.send(protocol.Answer(call=call, sdp=await agent.answer(offer.sdp)))
                media = await district.expect(protocol.MediaState)
                assert media.state == "connected"
                # the kiosk's frames, recognised by the time stamped into them
                await wait_for(lambda: len(set(agent.seen)) >= 5, what="stamped kiosk frames")
                chat = await district.expect(protocol.Chat)
                assert chat.text == "我听不清"
                await district.send(protocol.Chat(call=call, text="请出示医保卡", sender="agent"))
                await district.send(
                    protocol.CaptureRequest(
                        call=call, request="r1", kind="page", words="请把材料放在下方"
                    )
                )
                capture = await district.expect(protocol.Capture)
                assert (capture.request, capture.kind) == ("r1", "page")
                picture = cv2.imdecode(
                    np.frombuffer(base64.b64decode(capture.data), np.uint8), cv2.IMREAD_COLOR
                )
                assert picture is not None and picture.shape[0] > 100
                await asyncio.sleep(1.5)  # a stats line or two
                process.send_signal(signal.SIGTERM)
                end = await district.expect(protocol.End)
                assert (end.call, end.reason) == (call, "resident")
                out, err = await asyncio.wait_for(process.communicate(), 60)
                return process.returncode, out.decode(), err.decode()
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
                await agent.close()

    code, out, err = asyncio.run(run())
    assert code == 0, err[-3000:]
    records = lines(out)
    states = [r["state"] for r in records if r["event"] == "state"]
    assert states[0] == "asking" and "connecting" in states and "connected" in states
    assert states[-1] == "ended"
    assert any(r["event"] == "chat" and r["text"] == "请出示医保卡" for r in records)
    assert any(r["event"] == "capture_asked" and r["kind"] == "page" for r in records)
    assert any(r["event"] == "capture_sent" and r["bytes"] > 1000 for r in records)
    assert any(r["event"] == "stats" and r["frames_sent"] > 0 for r in records)


def test_a_station_that_is_not_enrolled(tmp_path: Path) -> None:
    result = subprocess.run(station(tmp_path, None), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr[-3000:]
    records = lines(result.stdout)
    assert [(r["state"], r["reason"]) for r in records] == [
        ("asking", ""),
        ("unavailable", "offline"),
    ]
