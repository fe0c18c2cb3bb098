"""`archivetag serve` speed: the search page against the hot in-process query, the file page
of a 3-hour file, and the first byte of a transcoded stream of an hour-long WMA.

    .venv/bin/python bench/serve.py ../shared/data/retrieval-dev [--segments 100000]
        [--rounds 30] [--out results.json]

The catalogue is the one bench/search_speed.py builds for its cold command (`--segments`
segments written straight into SQL, vectors made from real dev caption embeddings plus
noise, `index rebuild` run as a command), plus one 3-hour file of 1,080 ten-second segments
with captions and tags, added through `annotations import` as a user would. The server is
the real command (`archivetag serve` in its own process, on loopback); the client is httpx
in this process, one request at a time. Beside each figure, its floor in the same run:
- search page p50 vs the hot query: the same queries through a `Searcher` in this process
  (index loaded, embedder warm), which is what the command line's search spends once
  started;
- file page: the time to read the file's report in process (views.file_answer), and to
  draw the page from it (timeline and template, in process);
- first transcoded byte: `ffmpeg -ss` of the same file to a pipe, from the command line.
Also timed: the first byte of the same hour played from archivetag's own decode (as a file
whose timeline ingest rebuilt is played), which decodes from the file's start.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from search_speed import SEED, dev_texts, perturbed, write_catalogue  # noqa: E402

QUERIES = ("dog barking", "rain on a roof", "people applauding", "a car passes by",
           "birds chirping", "a man speaks", "music plays", "water running",
           "door slams", "engine idling")
LONG_FILE_SEGMENTS = 1080  # 3 hours of 10-second segments


def p50_ms(samples: list[float]) -> float:
    return round(1000 * statistics.median(samples), 1)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def add_long_file(home: Path, archive: Path, captions: list[str]) -> None:
    """A 3-hour file's 1,080 segments with captions and tags, through `annotations import`."""
    path = archive / "three-hours.wav"
    path.write_bytes(b"")  # never played: the page only reads the catalogue
    tags = ["Speech", "Music", "Dog", "Rain", "Vehicle", "Applause", "Bird", "Water"]
    lines = [{"path": str(path), "start": 10 * i, "end": 10 * (i + 1),
              "caption": captions[i % len(captions)],
              "tags": [tags[i % len(tags)], tags[(i // 7) % len(tags)]]}
             for i in range(LONG_FILE_SEGMENTS)]
    notes = home / "three-hours.jsonl"
    notes.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "archivetag", "annotations", "import", str(notes),
                    "--source", "bench"], env={**os.environ, "ARCHIVETAG_HOME": str(home)},
                   check=True, capture_output=True)


def mark_rebuilt(home: Path, path: Path) -> None:
    """Stores for `path` what ingest stores for a file whose timeline it rebuilt, so the
    server plays it from archivetag's own decode (the bench writes SQL, as for its
    catalogue)."""
    from sqlalchemy import update

    from archivetag.storage.database import open_database
    from archivetag.storage.schema import MediaFile

    database = open_database(f"sqlite:///{home / 'archivetag.db'}", create=False)
    with database.sessions() as session:
        session.execute(update(MediaFile).where(MediaFile.path == os.fsencode(path)).values(
            duration=3600.0, claimed_duration=3600.0,
            warnings=["timeline rebuilt: the timestamps run 3.00 s ahead of the samples; "
                      "the gaps are kept as silence"]))
        session.commit()
    database.engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "archivetag", "serve", "--port", str(port)],
                              env={**os.environ, "ARCHIVETAG_HOME": str(home)},
                              stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"archivetag serve did not start: {server.stderr.read().decode()}")


def timed_get(client, url: str, **params) -> float:
    started = time.perf_counter()
    response = client.get(url, params=params)
    response.raise_for_status()
    return time.perf_counter() - started


def first_byte_s(client, url: str, **params) -> float:
    started = time.perf_counter()
    with client.stream("GET", url, params=params) as response:
        response.raise_for_status()
        next(response.iter_raw())
        return time.perf_counter() - started


def ffmpeg_first_byte_s(path: Path, start: float) -> float:
    from archivetag.serve.media import transcode_command

    started = time.perf_counter()
    process = subprocess.Popen(transcode_command(os.fsencode(path), start),
                               stdout=subprocess.PIPE)
    process.stdout.read(1)
    took = time.perf_counter() - started
    process.kill()
    process.wait()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the retrieval-dev folder")
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=3000,
                        help="real caption vectors the synthetic ones are made from")
    parser.add_argument("--rounds", type=int, default=30, help="requests per measure")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import httpx

    from archivetag.config import load_settings
    from archivetag.index.embedder import DEFAULT_EMBEDDER, load_embedder
    from archivetag.index.search import Searcher
    from archivetag.serve import timeline, views
    from archivetag.serve.app import make_app
    from archivetag.serve.security import policy_for
    from archivetag.storage.database import open_database

    captions, _ = dev_texts(args.data)
    captions = [captions[i] for i in np.random.default_rng(SEED).permutation(len(captions))
                [:args.base]]
    report: dict = {"segments": args.segments + LONG_FILE_SEGMENTS, "rounds": args.rounds}
    with tempfile.TemporaryDirectory() as work:
        home, archive = Path(work) / "home", Path(work) / "archive"
        archive.mkdir()
        started = time.perf_counter()
        vectors = perturbed(load_embedder(DEFAULT_EMBEDDER).embed(captions), args.segments)
        write_catalogue(f"sqlite:///{home / 'archivetag.db'}", vectors, captions)
        del vectors
        add_long_file(home, archive, captions)
        subprocess.run([sys.executable, "-m", "archivetag", "index", "rebuild"],
                       env={**os.environ, "ARCHIVETAG_HOME": str(home)}, check=True,
                       capture_output=True)
        wma = archive / "hour.wma"
        ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=3600:c=pink:r=44100:a=0.2", "-ac", "2",
               "-c:a", "wmav2", "-b:a", "96k", str(wma))
        rebuilt = archive / "hour-rebuilt.wma"
        rebuilt.write_bytes(wma.read_bytes())
        notes = Path(work) / "hour.jsonl"
        notes.write_text("".join(json.dumps({"path": str(p), "start": 0, "end": 10,
                                             "caption": caption}) + "\n"
                                 for p, caption in ((wma, "hiss"), (rebuilt, "rebuilt"))),
                         encoding="utf-8")
        subprocess.run([sys.executable, "-m", "archivetag", "annotations", "import", str(notes)],
                       env={**os.environ, "ARCHIVETAG_HOME": str(home)}, check=True,
                       capture_output=True)
        mark_rebuilt(home, rebuilt)
        report["setup_s"] = round(time.perf_counter() - started, 1)

        settings = load_settings(overrides={"data_dir": str(home)})
        database = open_database(settings.database_url(), create=False)
        catalogue = views.Catalogue(database, settings)
        searcher = Searcher(database, settings, lambda message: None)
        from archivetag.cli.search import make_request

        requests = [make_request(q, None, views.PAGE_SIZE + 1, settings) for q in QUERIES]
        for request in requests:  # warm: index loaded, embedder ready
            searcher.search(request)
        hot = []
        for round_ in range(args.rounds):
            request = requests[round_ % len(requests)]
            started = time.perf_counter()
            searcher.search(request)
            hot.append(time.perf_counter() - started)
        long_id = views.search(catalogue, {"q": "path:" + str(archive / "three-hours.wav")}
                               ).hits[0]["file_id"]
        wma_id = views.search(catalogue, {"q": "hiss", "mode": "keyword"}).hits[0]["file_id"]
        rebuilt_id = views.search(catalogue, {"q": "rebuilt", "mode": "keyword"}
                                  ).hits[0]["file_id"]
        in_process, drawn = [], []
        template = make_app(database, settings, policy_for("127.0.0.1", "", [])
                            ).state.templates.get_template("file.html")
        for _ in range(args.rounds):
            started = time.perf_counter()
            found = views.file_answer(catalogue, long_id)
            in_process.append(time.perf_counter() - started)
            started = time.perf_counter()
            template.render(file=found, timeline=timeline.build(found["segments"],
                                                                found["duration"]))
            drawn.append(time.perf_counter() - started)
        database.engine.dispose()

        server, base = start_server(home)
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                for query in QUERIES:  # the server's first queries load the index and embedder
                    timed_get(client, "/", q=query)
                page = [timed_get(client, "/", q=QUERIES[i % len(QUERIES)])
                        for i in range(args.rounds)]
                api = [timed_get(client, "/api/search", q=QUERIES[i % len(QUERIES)])
                       for i in range(args.rounds)]
                timed_get(client, f"/files/{long_id}")
                file_page = [timed_get(client, f"/files/{long_id}") for _ in range(args.rounds)]
                first = {start: [first_byte_s(client, f"/media/{wma_id}", start=start)
                                 for _ in range(5)] for start in (0, 1800, 3590)}
                decoded = {start: [first_byte_s(client, f"/media/{rebuilt_id}", start=start)
                                   for _ in range(3)] for start in (0, 1800, 3590)}
        finally:
            server.terminate()
            server.wait(timeout=30)
        floor = {start: [ffmpeg_first_byte_s(wma, start) for _ in range(5)]
                 for start in (0, 1800, 3590)}
    report.update({
        "hot_query_p50_ms": p50_ms(hot),
        "search_page_p50_ms": p50_ms(page),
        "search_api_p50_ms": p50_ms(api),
        "search_page_over_hot_query": round(statistics.median(page) / statistics.median(hot), 2),
        "file_page_p50_ms": p50_ms(file_page),
        "file_report_in_process_p50_ms": p50_ms(in_process),
        "file_page_drawn_in_process_p50_ms": p50_ms(drawn),
        "transcode_first_byte_ms": {start: p50_ms(v) for start, v in first.items()},
        "ffmpeg_first_byte_ms": {start: p50_ms(v) for start, v in floor.items()},
        "decoded_timeline_first_byte_ms": {start: p50_ms(v) for start, v in decoded.items()},
        "load_average": round(os.getloadavg()[0], 2),
    })
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
