"""Which files make a checkpoint: read without torch, so cheap callers stay cheap.

Planning a run hashes the checkpoint's files to decide whether stored results are stale;
that must not pay for importing torch.
"""

from __future__ import annotations

import json
from pathlib import Path

from archivetag.tagger.midashenglm.errors import ModelLoadError

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"


def weight_files(model_dir: Path) -> list[Path]:
    """The safetensors files: the index's shards, or the single file."""
    index = model_dir / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError) as error:
            raise ModelLoadError(f"cannot read {index}: {error}") from None
        files = [model_dir / name for name in sorted(set(weight_map.values()))]
    elif (model_dir / SINGLE_FILE).is_file():
        files = [model_dir / SINGLE_FILE]
    elif any(model_dir.glob("*.bin")) or any(model_dir.glob("*.pt")):
        raise ModelLoadError(f"{model_dir} holds pickle weights: only safetensors are loaded")
    else:
        raise ModelLoadError(f"{model_dir} has neither {SINGLE_FILE} nor {INDEX_FILE}")
    for path in files:
        if not path.is_file():
            raise ModelLoadError(f"checkpoint shard {path.name} is missing from {model_dir}")
    return files
