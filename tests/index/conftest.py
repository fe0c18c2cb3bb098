"""Fixtures for search tests: a real catalogue (SQLite or PostgreSQL) filled through import."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from archivetag.config import Settings, load_settings
from archivetag.index.annotation_import import ImportReport, import_annotations
from archivetag.index.catalogue_index import update_index
from archivetag.storage.database import Database, open_database

LINES = [
    {"path": "/radio/morning.mp3", "start": 0, "end": 10,
     "caption": "A dog barks repeatedly while a man speaks", "tags": ["Dog", "Bark", "Speech"]},
    {"path": "/radio/morning.mp3", "start": 10, "end": 20,
     "caption": "Heavy rain falls on a tin roof", "tags": "Rain; Rain on surface"},
    {"path": "/radio2/evening.wav", "start": 3600, "end": 3610,
     "caption": "Church bells ring in the distance", "tags": ["Bell"]},
    {"path": "/tv/street.mkv", "start": 5, "end": 9.5,
     "caption": "Cars pass by on a busy street and a horn honks", "tags": ["Vehicle", "Car horn"]},
    {"path": "/tv/street.mkv", "start": 20, "end": 30,
     "caption": "A crowd applauds and cheers after a speech", "tags": ["Applause"]},
]


@dataclass(frozen=True)
class Catalogue:
    database: Database
    settings: Settings
    data_dir: Path

    def load(self, lines: list[dict], source: str = "catalogue") -> ImportReport:
        """Imports `lines` as a JSONL file and updates the index, as the command does."""
        path = self.data_dir / f"lines-{len(list(self.data_dir.glob('lines-*')))}.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        with self.database.sessions() as session:
            report = import_annotations(session, path, source, allow_unknown=True)
        update_index(self.database, self.settings, list(report.segment_ids))
        return report


def make_catalogue(url: str, data_dir: Path, **overrides) -> Catalogue:
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = load_settings(overrides={"data_dir": str(data_dir), "db": url, **overrides})
    return Catalogue(open_database(url), settings, data_dir)


@pytest.fixture
def lines() -> list[dict]:
    """What the `catalogue` fixture holds."""
    return LINES


@pytest.fixture
def catalogue_maker(database_url: str):
    """Opens more views of the same database, with other settings (made with `catalogue`)."""
    made = []

    def make(data_dir: Path, **overrides) -> Catalogue:
        made.append(make_catalogue(database_url, data_dir, **overrides))
        return made[-1]

    yield make
    for catalogue in made:
        catalogue.database.engine.dispose()


@pytest.fixture
def catalogue(database_url: str, tmp_path: Path):
    made = make_catalogue(database_url, tmp_path / "data")
    made.load(LINES)
    yield made
    made.database.engine.dispose()
