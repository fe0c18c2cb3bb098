"""In a real browser: Debian's Chromium, headless, driven by Playwright, against uvicorn.

One browser for the session. Positions are read from the page's own media element: where
it is on the file's timeline is `currentTime` plus the second a transcode began at.
"""

from __future__ import annotations

import pytest

from tests.serve.conftest import RATE_CHANGE_CLICK_S

CHROMIUM = "/usr/bin/chromium"
# Where the media element stood when it began playing (the 'playing' event), in seconds of
# the file's own timeline.
RECORD_START = """player => { window.began = null; player.addEventListener('playing', () => {
    window.began = player.currentTime + Number(player.dataset.offset || 0); }, {once: true}); }"""


@pytest.fixture(scope="session")
def browser():
    import os

    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (scripts/setup installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--autoplay-policy=no-user-gesture-required"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    opened = browser.new_page()
    yield opened
    opened.close()


# Records where the media element is each time its sound is loud (a click), through Web Audio.
LISTEN = """player => { window.heard = []; const context = new AudioContext();
    const analyser = context.createAnalyser(); analyser.fftSize = 256;
    context.createMediaElementSource(player).connect(analyser); analyser.connect(context.destination);
    const wave = new Float32Array(analyser.fftSize);
    setInterval(() => { analyser.getFloatTimeDomainData(wave);
        if (Math.max(...wave.map(Math.abs)) > 0.3)
            window.heard.push(player.currentTime + Number(player.dataset.offset || 0)); }, 5); }"""


def play_and_record(page, section, click):
    """Calls `click` and returns the position the file's player began playing at."""
    section.locator(".player").evaluate(RECORD_START)
    click()
    return page.wait_for_function("() => window.began", timeout=15000).json_value()


def test_a_hit_plays_in_place_from_its_start(page, site):
    page.goto(f"{site}/?q=rain&mode=keyword")
    section = page.locator("section.file").first
    hit = section.locator(".hit", has_text="Heavy rain falls")
    position = play_and_record(page, section, hit.locator(".play-hit").click)
    assert abs(position - 10.0) < 0.5
    assert section.locator("audio.player").evaluate("player => !player.paused")


def test_a_video_hit_stops_at_its_end(page, site):
    page.goto(f"{site}/?q=cars&mode=keyword")
    section = page.locator("section.file").first
    assert section.locator("video.player").count() == 1
    position = play_and_record(page, section, section.locator(".play-hit").click)
    assert abs(position - 1.0) < 0.5
    player = section.locator("video.player")
    page.wait_for_function("player => player.paused", arg=player.element_handle(), timeout=15000)
    assert 3.5 <= player.evaluate("p => p.currentTime") <= 4.6  # the hit is 1-4 s


def test_clicking_the_timeline_plays_from_there(page, site):
    page.goto(f"{site}/?q=rain&mode=keyword")
    page.locator("section.file h2 a").first.click()
    timeline = page.locator("svg.timeline")
    duration, left, width = (float(timeline.get_attribute(f"data-{name}"))
                             for name in ("duration", "left", "width"))
    box = timeline.bounding_box()
    wanted = 25.0
    x = (left + wanted / duration * (width - left)) / width * box["width"]
    section = page.locator("section.file")
    position = play_and_record(
        page, section, lambda: timeline.click(position={"x": x, "y": box["height"] / 2}))
    assert abs(position - wanted) < 0.5


def test_a_wma_plays_through_the_transcoding_route(page, site):
    page.goto(f"{site}/?q=bells&mode=keyword")
    section = page.locator("section.file").first
    position = play_and_record(page, section, section.locator(".play-hit").click)
    assert abs(position - 12.0) < 0.5
    player = section.locator("audio.player")
    assert player.get_attribute("src").endswith("?start=12")
    page.wait_for_function("player => player.currentTime > 0.3", arg=player.element_handle(),
                           timeout=15000)


def test_keys_select_hits_play_pause_and_focus_the_search(page, site):
    page.goto(f"{site}/?q=dog&mode=keyword")
    hits = page.locator(".hit .caption").all_inner_texts()
    assert len(hits) == 2
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.locator(".hit.selected .caption").inner_text() == hits[1]
    page.keyboard.press("k")
    selected = page.locator(".hit.selected")
    assert selected.locator(".caption").inner_text() == hits[0]
    section = page.locator("section.file").first
    position = play_and_record(page, section, lambda: page.keyboard.press(" "))
    assert abs(position - float(selected.get_attribute("data-start"))) < 0.5
    page.keyboard.press(" ")
    assert section.locator(".player").evaluate("player => player.paused")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"


def test_a_hit_after_a_sample_rate_change_sounds_at_its_stored_second(page, site):
    # Chromium stalls at the rate change when it plays this MP3 itself (measured: 11.8 s);
    # the server plays it from archivetag's decode instead.
    page.goto(f"{site}/?q=rate+change&mode=keyword")
    section = page.locator("section.file").first
    player = section.locator(".player")
    assert player.get_attribute("data-transcoded") == "true"
    player.evaluate(LISTEN)
    position = play_and_record(page, section, section.locator(".play-hit").click)
    assert abs(position - 14.0) < 0.5
    heard = page.wait_for_function("() => window.heard.length && window.heard", timeout=15000)
    assert heard.json_value()[0] == pytest.approx(RATE_CHANGE_CLICK_S, abs=0.15)
