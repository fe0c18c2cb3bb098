"""Tasks (a prompt and a token limit each) and parsing of the model's answers.

Prompts are the model's own evaluation prompts (reference §9); the model was trained on
them, so wording changes cost quality. Parsing never raises: odd or empty output is kept as
it came, next to whatever could be made of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archivetag.vocabulary import normalise_tag

TASK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class Task:
    """One question asked of every segment."""

    name: str
    prompt: str
    max_new_tokens: int

    def __post_init__(self) -> None:
        if not TASK_NAME.match(self.name):
            raise ValueError(
                f"task name {self.name!r}: use 1-32 lower-case letters, digits or '_'"
            )
        if not self.prompt.strip():
            raise ValueError(f"task {self.name!r} has an empty prompt")
        if self.max_new_tokens < 1:
            raise ValueError(f"task {self.name!r}: max_new_tokens must be at least 1")


def _built_in_tasks() -> dict[str, Task]:
    from archivetag.config import Settings, defaults

    tables = Settings(values=defaults()).tasks()
    return {name: Task(name, table["prompt"], table["max_new_tokens"])
            for name, table in tables.items()}


DEFAULT_TASKS: dict[str, Task] = _built_in_tasks()
"""Built-in tasks, as declared in default.toml; caption and tags run by default."""


@dataclass(frozen=True)
class Tags:
    """Tags as the model wrote them and as stored for search (archivetag/vocabulary.py)."""

    raw: tuple[str, ...]
    normalised: tuple[str, ...]


def unique(items: list[str]) -> tuple[str, ...]:
    """Drop empty strings and repeats, keeping first-seen order."""
    return tuple(dict.fromkeys(item for item in items if item))


def parse_tags(text: str) -> Tags:
    """Split the model's ``Label;Label;…`` answer; names keep their inner commas."""
    raw = unique([part.strip() for part in text.split(";")])
    return Tags(raw=raw, normalised=unique([normalise_tag(tag) for tag in raw]))
