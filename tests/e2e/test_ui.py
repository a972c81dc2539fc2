"""The recordings web page in a real headless Chromium, against a real server and a real recorded call.

The page signs in, finds the recording just made, plays it (the browser's own MP3 decoder must report the
duration mpg123 finds, ±0.1 s), draws both channels' waveforms, shows a live call while it is up, shows the
failed delivery, and retries it until the receiver has the file.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.e2e.account import Account, running
from tests.e2e.test_recording import CALLEE_HZ, CALLER_HZ, tone
from tests.e2e.upload_sink import UploadSink, decode
from tests.phone import Phone
from tests.ports import rtp_ports
from tests.server import TOKEN

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (`make test` installs them)",
)
ARGS = [
    *("--trusted-networks", "127.0.0.1/32", "--rtp-ports", rtp_ports(27300, 27399)),
    *("--delivery-retry-base", "0.2", "--delivery-horizon", "2"),  # five quick tries, then failed (a short clock)
]
WAIT = 20.0

# Non-background pixels of a canvas (the page paints its background #fafbfc first).
DRAWN_PIXELS = """
const canvas = document.getElementById(arguments[0]);
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let drawn = 0;
for (let i = 0; i < data.length; i += 4) {
  if (data[i] !== 0xfa || data[i + 1] !== 0xfb || data[i + 2] !== 0xfc) drawn++;
}
return drawn;
"""


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    options.add_argument("--window-size=1280,1600")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class Rig(Account):
    """A server with one account, a receiver that fails twice, and a recorded callflow pointing at it."""

    sink: UploadSink = field(default_factory=UploadSink)
    recorded_number: str = ""
    echo_number: str = ""

    def recording(self, call_id: str) -> dict[str, Any]:
        [doc] = self.recordings(call_id=call_id)
        return doc


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    sink = UploadSink(fail_first=5).start()  # the five quick tries fail; then it accepts
    try:
        with running(tmp_path / "calltape", ARGS, "Browser", Rig, sink=sink) as r:
            flow = {"module": "record_call", "data": {"url": f"{sink.url}/ui"}, "children": {"_": {"module": "echo"}}}
            r.recorded_number = r.callflow(flow)
            r.echo_number = r.callflow({"module": "echo", "data": {}})
            yield r
    finally:
        sink.stop()


async def _recorded_call(sip_port: int, number: str, seconds: float) -> str:
    caller = await Phone(sip_port).start()
    try:
        caller.say_pcm(tone(CALLER_HZ, seconds + 5))
        assert (await caller.call(number)).status == 200
        await asyncio.sleep(seconds)  # the call's length: what is recorded
        await caller.hangup()
        return caller.call_id
    finally:
        caller.close()


class HeldCall:
    """A call kept up in a thread of its own until ``hang_up``."""

    def __init__(self, sip_port: int, number: str) -> None:
        self.call_id = ""
        self._up = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(sip_port, number),), daemon=True)
        self._thread.start()
        assert self._up.wait(WAIT), "the held call was not answered"

    async def _run(self, sip_port: int, number: str) -> None:
        phone = await Phone(sip_port).start()
        try:
            phone.say_pcm(tone(CALLEE_HZ, 60))
            assert (await phone.call(number)).status == 200
            self.call_id = phone.call_id
            self._up.set()
            await asyncio.to_thread(self._done.wait)
            await phone.hangup()
        finally:
            phone.close()

    def hang_up(self) -> None:
        self._done.set()
        self._thread.join(WAIT)


def _wait(driver: WebDriver, condition: Any, message: str) -> Any:
    ignored = (NoSuchElementException, StaleElementReferenceException)  # the page re-renders as it polls
    return WebDriverWait(driver, WAIT, poll_frequency=0.1, ignored_exceptions=ignored).until(condition, message)


def _filtered(driver: WebDriver, *terms: str) -> bool:
    """The list shows the answer to a query with all of *terms*."""
    table = driver.find_element(By.ID, "recordings")
    query = table.get_attribute("data-query") or ""
    return table.get_attribute("aria-busy") == "false" and all(term in query.split("&") for term in terms)


def _text(driver: WebDriver, css: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def test_sign_in_play_a_recording_see_its_waveform_and_retry_its_failed_delivery(rig: Rig, browser: WebDriver) -> None:
    call_id = asyncio.run(_recorded_call(rig.server.sip_port, rig.recorded_number, 2.5))
    deadline = time.monotonic() + WAIT
    while (doc := rig.recording(call_id))["state"] != "failed":  # the delivery gives up at its horizon
        assert time.monotonic() < deadline, f"still {doc['state']}"
        time.sleep(0.1)
    audio = Path(doc["spool_path"]).read_bytes()  # kept while the delivery has failed
    pcm, rate, channels = decode(audio, "mp3")
    file_seconds = len(pcm) / rate
    assert channels == 2 and abs(file_seconds - 2.5) < 0.5

    browser.get(f"{rig.server.api_url}/ui")
    token = _wait(browser, lambda d: d.find_element(By.ID, "token"), "no sign-in form")
    token.send_keys("not-the-token")
    browser.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()
    _wait(browser, lambda d: "token is wrong" in _text(d, "#error"), "a wrong token gave no clear message")
    token.clear()
    token.send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()
    _wait(browser, lambda d: d.find_element(By.ID, "app").is_displayed(), "signing in did not show the page")
    assert not browser.find_element(By.ID, "error").is_displayed()
    Select(browser.find_element(By.ID, "account")).select_by_value(rig.account_id)

    # Filter by the number dialled, and by state: only this call's recording is left.
    browser.find_element(By.ID, "number").send_keys(rig.recorded_number)
    Select(browser.find_element(By.ID, "state")).select_by_value("failed")
    browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    row_css = f'#recordings tbody tr[data-call-id="{call_id}"]'
    _wait(browser, lambda d: _filtered(d, f"number={rig.recorded_number}", "state=failed"), "the filters")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#recordings tbody tr")) == 1
    row = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, row_css), "the recording is not listed")
    assert "failed" in row.text
    row.find_element(By.CSS_SELECTOR, "button.open").click()

    # Played by the browser through its signed link: its duration is the file's.
    duration = _wait(
        browser,
        lambda d: d.execute_script(
            "const a = document.getElementById('player');"
            "return a.readyState >= 1 && isFinite(a.duration) && a.duration > 0 ? a.duration : false;"
        ),
        "the audio element never loaded the recording",
    )
    assert abs(duration - file_seconds) <= 0.1, (duration, file_seconds)
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "document.getElementById('player').play().then(() => done(true), (e) => done(String(e)));"
    )
    _wait(browser, lambda d: d.execute_script("return document.getElementById('player').currentTime > 0.3"), "play")
    assert browser.execute_script("return document.getElementById('player').error") is None

    # Both channels decoded in the page and drawn.
    _wait(browser, lambda d: d.find_element(By.ID, "waveforms").get_attribute("data-drawn") == "2", "no waveform")
    for canvas in ("waveform-0", "waveform-1"):
        drawn = browser.execute_script(DRAWN_PIXELS, canvas)
        width, height = browser.execute_script(
            f"const c = document.getElementById('{canvas}'); return [c.width, c.height]"
        )
        assert drawn > width * 2, f"{canvas}: only {drawn} pixels drawn"  # a waveform, not a flat line
        assert drawn < width * height * 0.9  # and not a filled box
    download = browser.find_element(By.ID, "download").get_attribute("href")
    assert download is not None and "sig=" in download and TOKEN not in download
    assert httpx.get(download).content == audio

    # The live view shows a call while it is up, and not once it has ended.
    held = HeldCall(rig.server.sip_port, rig.echo_number)
    live_row = f'#channels tbody tr[data-call-id="{held.call_id}"]'
    try:
        shown = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, live_row), "the live call is not shown")
        assert rig.echo_number in shown.text
    finally:
        held.hang_up()
    _wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, live_row), "the ended call is still shown")

    # The failed delivery, retried from the page, reaches the receiver (which accepts by now).
    assert _text(browser, "#detail-state") == "failed"
    retry = browser.find_element(By.ID, "retry")
    assert retry.is_enabled()
    retry.click()
    _wait(browser, lambda d: _text(d, "#detail-state") == "delivered", "the retried delivery never showed delivered")
    assert len(rig.sink.uploads) == 1 and len(rig.sink.attempts) == 6  # five quick tries, then the one asked for
    assert rig.sink.uploads[0].body == audio
    assert rig.recording(call_id)["state"] == "delivered"
    assert not browser.find_element(By.ID, "retry").is_enabled()
    assert not browser.find_element(By.ID, "error").is_displayed()


def test_a_user_signs_in_with_account_username_and_password(rig: Rig, browser: WebDriver) -> None:
    """Kazoo's user_auth from the page: the user's account opens, and a wrong password says so."""
    user = {"first_name": "Una", "last_name": "User", "username": "una", "password": "una-secret-1"}
    rig.put("users", {**user, "priv_level": "admin"})
    browser.get(f"{rig.server.api_url}/ui")
    _wait(browser, lambda d: d.find_element(By.ID, "account-name").is_displayed(), "no sign-in form")
    for element_id, value in (("account-name", "browser"), ("username", "UNA"), ("password", "wrong-password")):
        browser.find_element(By.ID, element_id).send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()
    _wait(browser, lambda d: "username or password is wrong" in _text(d, "#error"), "a wrong password said nothing")
    password = browser.find_element(By.ID, "password")
    password.clear()
    password.send_keys("una-secret-1")
    browser.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()
    _wait(browser, lambda d: d.find_element(By.ID, "app").is_displayed(), "signing in did not show the page")
    options = [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "account")).options]
    assert options == [rig.account_id]  # the user's account, and no other
    token = browser.execute_script("return sessionStorage.getItem('calltape.token')")
    assert token and token != TOKEN
    assert (
        httpx.get(f"{rig.server.api_url}/v2/token_auth", headers={"X-Auth-Token": token}).json()["data"]["account_id"]
        == rig.account_id
    )
