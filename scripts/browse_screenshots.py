"""Screenshots of `archivetag serve` for README's "Browse" section (a script, not a test).

    .venv/bin/python scripts/browse_screenshots.py [--out docs]

Builds a small catalogue as a user would: a generated two-minute field recording (a voice-like
tone, rain-like noise, a silent stretch, a tone) and a WMA, ingested with a tiny random
checkpoint (for the segments, their loudness and silence; its captions are meaningless, so
it writes only a one-token caption and no tags), then readable annotations imported beside
them with `annotations import` (a curator's catalogue); serves it with `archivetag serve` and saves
docs/browse-search.png and docs/browse-file.png from headless Chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def run(*command: str, env: dict) -> None:
    subprocess.run(command, env=env, check=True, capture_output=True)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def make_archive(folder: Path) -> tuple[Path, Path]:
    walk = folder / "field" / "harbour walk.flac"
    walk.parent.mkdir(parents=True)
    ffmpeg("-f", "lavfi", "-i",
           "aevalsrc='if(lt(t,30),0.3*sin(2*PI*180*t)*(0.5+0.5*sin(2*PI*3*t)),"
           "if(lt(t,60),0.2*(random(0)-0.5),if(lt(t,80),0,0.3*sin(2*PI*660*t))))':d=120:s=22050",
           str(walk))
    bells = folder / "radio" / "sunday bells.wma"
    bells.parent.mkdir()
    ffmpeg("-f", "lavfi", "-i", "aevalsrc='0.3*sin(2*PI*523*t)*exp(-3*mod(t,1))':d=40:s=22050",
           "-c:a", "wmav2", str(bells))
    return walk, bells


def notes(walk: Path, bells: Path) -> list[dict]:
    said = [(0, 10, "A man speaks to a small crowd near the water", ["Speech", "Crowd"]),
            (10, 20, "A man speaks while gulls cry overhead", ["Speech", "Bird"]),
            (20, 30, "A guide speaks and people laugh", ["Speech", "Laughter"]),
            (30, 40, "Heavy rain falls on a tin roof", ["Rain", "Rain on surface"]),
            (40, 50, "Rain falls and water drips from a gutter", ["Rain", "Drip"]),
            (50, 60, "Rain and distant thunder", ["Rain", "Thunder"]),
            (80, 90, "A ship's horn sounds a long note", ["Vehicle horn", "Ship"]),
            (90, 120, "A steady tone from a buoy bell", ["Bell", "Tone"])]
    lines = [{"path": str(walk), "start": a, "end": b, "caption": c, "tags": t}
             for a, b, c, t in said]
    lines += [{"path": str(bells), "start": s, "end": s + 10,
               "caption": "Church bells ring in the distance", "tags": ["Bell", "Church bell"]}
              for s in (0, 10, 20, 30)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        env = {**os.environ, "ARCHIVETAG_HOME": str(work / "data"),
               "ARCHIVETAG_MODEL_ID": str(work / "tiny"), "ARCHIVETAG_TASKS_RUN": "caption",
               "ARCHIVETAG_TASKS_CAPTION_MAX_NEW_TOKENS": "1", "RAY_AUTH_MODE": "disabled",
               "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
        archivetag = [sys.executable, "-m", "archivetag"]
        walk, bells = make_archive(work / "archive")
        run(*archivetag, "model", "make-tiny", str(work / "tiny"), env=env)
        subprocess.run([*archivetag, "ingest", str(work / "archive"), "-q"], env=env,
                       capture_output=True)  # exit 3 would only mean a file failed
        lines = work / "notes.jsonl"
        lines.write_text("".join(json.dumps(line) + "\n" for line in notes(walk, bells)))
        run(*archivetag, "annotations", "import", str(lines), "--source", "curator", env=env)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen([*archivetag, "serve", "--port", str(port)], env=env)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.2)
            base = f"http://127.0.0.1:{port}"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                page = browser.new_page(viewport={"width": 1100, "height": 760})
                page.goto(f"{base}/?q=rain+OR+bell+OR+bells&mode=keyword")
                page.locator(".hit").first.click(position={"x": 3, "y": 3})
                page.screenshot(path=str(args.out / "browse-search.png"))
                page.locator("section.file h2 a", has_text="harbour walk").first.click()
                page.wait_for_load_state()
                page.screenshot(path=str(args.out / "browse-file.png"))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote {args.out / 'browse-search.png'} and {args.out / 'browse-file.png'}")


if __name__ == "__main__":
    main()
