"""Search answers what it answered before it was made fast: a fixed catalogue, recorded results.

`search_results.json` holds, per backend, index kind, mode and query, the segment ids in rank
order with their reason and score, as the search code before issue 13 returned them. Changing
how search works must not change them. To record them again (only when a change of ranking
is intended, and said so in the commit): run this module with RECORD_SEARCH_RESULTS=1, which
writes what it finds instead of comparing.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from archivetag.index.catalogue_index import rebuild_index
from archivetag.index.query import parse_query
from archivetag.index.search import MODES, Searcher, SearchRequest
from archivetag.storage.schema import MediaFile
from tests.index.conftest import make_catalogue

RECORDED = Path(__file__).with_name("search_results.json")
SOUNDS = ["a dog barks", "rain falls on a roof", "church bells ring", "a car horn honks",
          "a crowd applauds", "a man speaks", "birds sing", "a train passes", "wind blows",
          "a baby cries", "water splashes", "an engine idles"]
PLACES = ["in the distance", "near a busy street", "inside a small room", "at night"]
FOLDERS = ["/radio", "/radio2", "/tv", "/field/2019"]
QUERIES = ["dog barking", "heavy rain", "bells", "traffic noise", "people clapping",
           "someone talking at night", '"busy street" car', "water"]
FILTERS = ["", " tag:dog", " path:/radio", " type:video", " duration:..100", " duration:300..",
           " since:2026-01-10", " tag:street path:/tv"]
LIMIT = 12


def fixed_lines() -> list[dict]:
    """96 segments in 24 files; every eighth caption repeats an earlier one (equal scores)."""
    lines = []
    for number in range(96):
        sound, place = SOUNDS[number % len(SOUNDS)], PLACES[number % 7 % len(PLACES)]
        folder = FOLDERS[number // 4 % len(FOLDERS)]
        extension = "mkv" if number // 4 % 3 == 0 else "wav"
        caption = f"{sound} {place}" if number % 8 else f"{SOUNDS[0]} {PLACES[0]}"
        tags = [sound.split()[-2], place.split()[-1]]
        lines.append({"path": f"{folder}/file{number // 4:02d}.{extension}",
                      "start": 10 * (number % 4), "end": 10 * (number % 4) + 10,
                      "caption": caption, "tags": tags})
    return lines


def fixed_catalogue(url: str, data_dir: Path, kind: str):
    """The catalogue, its file durations and first-seen dates set, its index built as `kind`."""
    overrides = {"index.exact_max": 10, "index.nprobe": 2} if kind == "ivf" else {}
    catalogue = make_catalogue(url, data_dir, **overrides)
    lines = fixed_lines()
    for start in range(0, len(lines), 48):
        catalogue.load(lines[start:start + 48])
    with catalogue.database.sessions() as session:
        for number in range(24):
            session.execute(update(MediaFile).where(MediaFile.display_path.like(
                f"%/file{number:02d}.%")).values(
                    duration=50.0 * (number + 1),
                    first_seen_at=datetime(2026, 1, 1 + number, tzinfo=timezone.utc)))
        session.commit()
    if kind == "ivf":
        rebuild_index(catalogue.database, catalogue.settings)
    return catalogue


def results_of(catalogue) -> dict[str, list]:
    searcher = Searcher(catalogue.database, catalogue.settings, lambda message: None)
    found = {}
    for mode in MODES:
        for query in QUERIES:
            for filters in FILTERS:
                text = query + filters
                results = searcher.search(SearchRequest(parse_query(text), mode, LIMIT))
                found[f"{mode} {text}"] = [[r.segment_id, r.reason, round(r.score, 5)]
                                           for r in results]
    return found


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_results_are_the_recorded_ones(database_url: str, tmp_path: Path, kind: str) -> None:
    backend = database_url.split(":", 1)[0].split("+")[0]
    catalogue = fixed_catalogue(database_url, tmp_path / "data", kind)
    try:
        found = results_of(catalogue)
    finally:
        catalogue.database.engine.dispose()
    if os.environ.get("RECORD_SEARCH_RESULTS"):
        everything = json.loads(RECORDED.read_text(encoding="utf-8")) if RECORDED.exists() else {}
        everything[f"{backend} {kind}"] = found
        RECORDED.write_text(json.dumps(everything, indent=0, sort_keys=True) + "\n",
                            encoding="utf-8")
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))[f"{backend} {kind}"]
    assert found.keys() == recorded.keys()
    for case, expected in recorded.items():
        got = found[case]
        assert [r[:2] for r in got] == [r[:2] for r in expected], case  # ids and order, reasons
        assert [r[2] for r in got] == pytest.approx([r[2] for r in expected], abs=2e-5), case
