"""Fixtures for the kiosk window tests: a small catalog written here (so the tests do not
depend on the sample file), windows built from it, and a screenshot of every open window
when a test fails."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from kiosk.config import Settings, UiSettings
from kiosk.core.catalog import Catalog, parse_catalog
from kiosk.core.catalog_store import sample_catalog_path
from kiosk.ui.fonts import load_font
from kiosk.ui.strings import Language
from kiosk.ui.tasks import TaskManager
from kiosk.ui.window import MainWindow
from tests.ui.kit import make_kiosk  # noqa: F401 (a fixture for the flow tests)

SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "doorstep-test-screenshots"
SAMPLE_CATALOG = sample_catalog_path()
SIZES = ((1920, 1080), (1366, 768))

CATALOG_TOML = """
[catalog]
format = 1
version = "test-1"
title_zh = "测试目录"
title_en = "Test catalog"
sample = true

[[item]]
code = "YB-0001"
name_zh = "就医记录册申领"
name_en = "Applying for a medical record book"
category = "medical_insurance"
responsible_body_zh = "区医疗保障事务中心"
responsible_body_en = "District Medical Insurance Affairs Centre"
eligibility_zh = "本区参加城乡居民基本医疗保险的居民。"
eligibility_en = "Residents of the district insured by the basic medical insurance for residents."
conditions_zh = ["已参加本市城乡居民基本医疗保险", "首次申领或原记录册已用完"]
conditions_en = [
    "Insured by the city's residents' medical insurance",
    "Applying for the first time, or the old book is full",
]
promised_days = 0
handling = ["on_the_spot"]
phone = "021-12345678"
keywords_zh = ["病历本"]

[[item.materials]]
name_zh = "社会保障卡"
name_en = "Social security card"
form = "original"

[[item.materials]]
name_zh = "户口簿"
name_en = "Household register"
form = "original_and_copy"
copies = 2
required = false

[[item]]
code = "YB-0002"
name_zh = "医保关系转移接续"
name_en = "Transferring medical insurance to or from another city"
category = "medical_insurance"
responsible_body_zh = "区医疗保障事务中心"
eligibility_zh = "在外省市参加过基本医疗保险、现在本市参保的人员。"
promised_days = 5
statutory_days = 15
handling = ["remote_assistance", "on_behalf"]

[[item.materials]]
name_zh = "参保凭证"
name_en = "Proof of insurance"
form = "copy"

[[item]]
code = "YL-0001"
name_zh = "老年照护需求评估申请"
name_en = "Applying for a long-term care needs assessment"
category = "elderly_care"
responsible_body_zh = "区民政局"
responsible_body_en = "District Civil Affairs Bureau"
eligibility_zh = "年满60周岁、本市户籍、参加本市基本医疗保险的老年人。"
eligibility_en = "People aged 60 or over, registered in the city and insured by it."
promised_days = 10
handling = ["on_behalf", "remote_assistance"]
needs_photo = true

[[item]]
code = "MZ-0001"
name_zh = "最低生活保障申请"
name_en = "Applying for the minimum living allowance"
category = "civil_affairs"
responsible_body_zh = "街道社区事务受理服务中心"
eligibility_zh = "家庭人均收入低于本市最低生活保障标准，且家庭财产符合规定的本市户籍居民家庭。"
promised_days = 20
handling = ["remote_assistance"]

[[item.materials]]
name_zh = "居民身份证"
name_en = "Resident identity card"
form = "original_and_copy"

[[item.materials]]
name_zh = "家庭收入证明"
name_en = "Proof of household income"
form = "original"

[[item]]
code = "HJ-0001"
name_zh = "居住证卡片补领"
name_en = "Replacing a lost residence permit card"
category = "residence"
responsible_body_zh = "区公安分局"
eligibility_zh = "居住证遗失或损坏的持证人。"
promised_days = 15
fee_yuan = 20
handling = ["on_the_spot"]
"""

MakeWindow = Callable[..., MainWindow]


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return parse_catalog(CATALOG_TOML, "catalog fixture")


@pytest.fixture(scope="session")
def sample_catalog() -> Catalog:
    """The sample catalog shipped in assets/."""
    return parse_catalog(SAMPLE_CATALOG.read_text(encoding="utf-8"), str(SAMPLE_CATALOG))


@pytest.fixture
def tasks(qtbot: QtBot) -> Iterator[TaskManager]:
    manager = TaskManager()
    yield manager
    manager.shutdown()


@pytest.fixture
def make_window(qtbot: QtBot, tasks: TaskManager, catalog: Catalog) -> MakeWindow:
    """Build a shown kiosk window; by default it has loaded the fixture catalog."""

    def make(
        *,
        language: Language = "zh",
        large_text: bool = False,
        size: tuple[int, int] = SIZES[1],
        loader: Callable[[], Catalog] | None = None,
    ) -> MainWindow:
        assert load_font()
        settings = Settings(
            ui=UiSettings(language=language, fullscreen=False, large_text=large_text)
        )
        window = MainWindow(settings, tasks)
        qtbot.addWidget(window)
        window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        with qtbot.waitSignal(window.catalog_settled):
            window.load_catalog(loader or (lambda: catalog))
        return window

    return make


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """When a test fails, save what every open window showed, and say where."""
    report: pytest.TestReport = yield
    app = QApplication.instance()
    if report.when == "call" and report.failed and isinstance(app, QApplication):
        windows = [widget for widget in app.topLevelWidgets() if widget.isVisible()]
        saved = []
        for number, widget in enumerate(windows):
            path = SCREENSHOT_DIR / f"{item.name}-{number}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            if widget.grab().save(str(path), "PNG"):
                saved.append(str(path))
        if saved:
            report.sections.append(("screenshots", "\n".join(saved)))
    return report
