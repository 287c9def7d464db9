"""The Qt binding itself: PySide6 6.12.0 under Python 3.11 drops a reference to None on
every void call and to True on every signal emit, until Python aborts ("none_dealloc").
The kiosk makes millions of such calls in a day; this guards the pin in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys

LOOP = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QLabel

class Emitter(QObject):
    fired = Signal(bool)

app = QApplication([])
label, emitter = QLabel(), Emitter()
emitter.fired.connect(lambda value: None)
none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
for _ in range(20000):
    label.setText("x")
    emitter.fired.emit(True)
print(sys.getrefcount(None) - none_before, sys.getrefcount(True) - true_before)
"""


def test_the_binding_keeps_its_references_over_many_calls() -> None:
    result = subprocess.run(
        [sys.executable, "-c", LOOP], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"the Qt binding crashed Python: {result.stderr[-500:]}"
    none_lost, true_lost = (int(n) for n in result.stdout.split())
    assert abs(none_lost) < 100 and abs(true_lost) < 100, (none_lost, true_lost)
