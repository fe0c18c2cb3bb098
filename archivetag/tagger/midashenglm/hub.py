"""Finding a checkpoint (local directory or Hugging Face cache) and downloading one.

Only the files the loader reads are fetched; remote code in the repository is never
downloaded, let alone run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archivetag.tagger.midashenglm.errors import ModelLoadError

NEEDED_FILES = [
    "config.json",
    "*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
]


@dataclass(frozen=True)
class ModelLocation:
    """Where a configured model lives; hub id and snapshot revision when it came from the hub."""

    path: Path
    model_id: str | None
    revision: str | None


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def pull(
    model_id: str, revision: str | None = None, cache_dir: Path | None = None
) -> ModelLocation:
    """Download ``model_id`` at ``revision`` into the usual hub cache, with progress bars."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        path = snapshot_download(
            model_id, revision=revision, cache_dir=cache_dir, allow_patterns=NEEDED_FILES
        )
    except RevisionNotFoundError:
        raise ModelLoadError(f"{model_id} has no revision {revision!r}") from None
    except RepositoryNotFoundError:
        raise ModelLoadError(f"{model_id} is not a model on the Hugging Face hub") from None
    except Exception as error:  # network failures come as many types, all mean the same here
        raise ModelLoadError(
            f"cannot download {model_id}: {_first_line(error)}; check the network, or copy "
            "the checkpoint to a directory and configure that path as the model"
        ) from None
    path = Path(path)
    return ModelLocation(path, model_id, path.name)


def locate(
    model: str, revision: str | None = None, cache_dir: Path | None = None
) -> ModelLocation:
    """A local checkpoint directory, or the cached snapshot of a hub id; never downloads."""
    local = Path(model).expanduser()
    if local.is_dir():
        return ModelLocation(local.resolve(), None, None)
    if model.startswith(("/", ".", "~")) or local.exists():
        raise ModelLoadError(f"model directory {model} does not exist (or is not a directory)")
    from huggingface_hub.constants import HF_HUB_CACHE  # cheap, unlike the package's API

    at = f" at revision {revision}" if revision else ""
    not_downloaded = ModelLoadError(
        f"model {model}{at} is not downloaded: run `archivetag model pull` (needs network) "
        "or configure a local checkpoint directory")
    # The hub cache keeps a repository under models--ORG--NAME: without that folder there is
    # nothing to find, and the answer comes without loading huggingface_hub's API.
    if not (Path(cache_dir or HF_HUB_CACHE) / f"models--{model.replace('/', '--')}").is_dir():
        raise not_downloaded
    from huggingface_hub import snapshot_download

    try:
        path = Path(
            snapshot_download(
                model,
                revision=revision,
                cache_dir=cache_dir,
                allow_patterns=NEEDED_FILES,
                local_files_only=True,
            )
        )
    except Exception:  # not cached (or not a valid id): the remedy is the same
        raise not_downloaded from None
    return ModelLocation(path, model, path.name)
