"""What determines a result, as one dict that storage can hash into a "stale" key.

Anything that would change an answer belongs here: the checkpoint (id, revision and a
content fingerprint), this implementation's version, dtype, system prompt, task prompts
and decoding settings. Segmentation settings are added by the pipeline that owns them.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from archivetag.tagger.midashenglm.files import INDEX_FILE, weight_files
from archivetag.tagger.tasks import Task

MODEL_CODE_VERSION = "midashenglm-1"
"""Bump whenever a change here can change generated text for the same weights."""

SHA256_NAME = re.compile(r"^[0-9a-f]{64}$")
HASHED_FILES = ("config.json", "tokenizer.json", INDEX_FILE)


@functools.lru_cache(maxsize=64)
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    """sha256 of a file; a hub-cache symlink already names its blob by the LFS sha256."""
    target = path.resolve()
    if path.is_symlink() and SHA256_NAME.match(target.name):
        return target.name
    digest = hashlib.sha256()
    with open(target, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_fingerprint(model_dir: Path) -> str:
    """sha256 over the config, tokenizer and weight files' contents (cached per file state)."""
    model_dir = Path(model_dir)
    files = [model_dir / name for name in HASHED_FILES if (model_dir / name).is_file()]
    digest = hashlib.sha256()
    for path in sorted(files + weight_files(model_dir)):
        stat = path.stat()
        content = _file_sha256(path, stat.st_size, stat.st_mtime_ns)
        digest.update(f"{path.name}:{content}\n".encode())
    return digest.hexdigest()


def result_key(
    model_dir: Path,
    model_id: str | None,
    revision: str | None,
    tiny: bool,
    dtype: str,
    tasks: Sequence[Task],
    system_prompt: str,
) -> dict[str, object]:
    """Everything about the model side that determines the answers to ``tasks``.

    Computed from the checkpoint's files and the settings alone, without loading weights,
    so a run can tell stale results before it starts the model.
    """
    return {
        "model_id": model_id,
        "revision": revision,
        "checkpoint_sha256": checkpoint_fingerprint(model_dir),
        "tiny_random_checkpoint": tiny,
        "model_code": MODEL_CODE_VERSION,
        "dtype": dtype,
        "system_prompt": system_prompt,
        "decoding": "greedy",
        "tasks": {
            task.name: {"prompt": task.prompt, "max_new_tokens": task.max_new_tokens}
            for task in sorted(tasks, key=lambda task: task.name)
        },
    }
