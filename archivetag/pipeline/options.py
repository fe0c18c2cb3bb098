"""From settings to the typed options each stage takes: the one place they are mapped."""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from archivetag.config import Settings
from archivetag.errors import UsageError
from archivetag.ingest.decode import DecodeOptions
from archivetag.ingest.discover import DiscoveryOptions
from archivetag.ingest.probe import StreamChoice
from archivetag.ingest.read import ReadOptions
from archivetag.ingest.segment import SegmentSettings
from archivetag.pipeline.driver import PoolSpec
from archivetag.pipeline.ray_runtime import Cluster
from archivetag.pipeline.tagging import TaggerSpec
from archivetag.tagger.tasks import Task

TINY_WARNING = (
    "THE MODEL IS A TINY RANDOM TEST CHECKPOINT ({path}): its captions and tags are "
    "meaningless noise. For real results run `archivetag model pull` (downloads "
    "MiDashengLM-7B, about 16.5 GB) and leave the `model.id` setting at its default, or point "
    "`--model` at a local copy of the official checkpoint."
)


@dataclass(frozen=True)
class ModelChoice:
    """The configured checkpoint, found on disk (never downloaded by a run)."""

    path: Path
    model_id: str  # as configured: a hub id or a local path
    revision: str | None
    tiny: bool


def model_location(settings: Settings) -> ModelChoice:
    from archivetag.tagger.midashenglm.config import read_config
    from archivetag.tagger.midashenglm.hub import locate
    configured = settings["model.id"]
    location = locate(configured, settings["model.revision"] or None)
    return ModelChoice(path=location.path, model_id=configured, revision=location.revision,
                       tiny=read_config(location.path).tiny)


def tasks(settings: Settings) -> tuple[Task, ...]:
    tables = settings.tasks()
    try:
        return tuple(Task(name, tables[name]["prompt"], tables[name]["max_new_tokens"])
                     for name in settings["tasks.run"])
    except ValueError as error:
        raise UsageError(f"tasks: {error}") from None


def segment_settings(settings: Settings) -> SegmentSettings:
    return SegmentSettings(window_s=settings["segment.length"],
                           overlap_s=settings["segment.overlap"],
                           min_length_s=settings["segment.min_length"],
                           silence_threshold_dbfs=settings["segment.silence_db"])


def provenance_values(settings: Settings, model: ModelChoice) -> dict:
    """Everything that would change a stored result (design.md: the "stale" key)."""
    from archivetag.tagger.midashenglm.provenance import result_key

    return {
        "model": result_key(model.path, model.model_id, model.revision, model.tiny,
                            settings["model.dtype"], tasks(settings),
                            settings["model.system_prompt"]),
        "segmentation": segment_settings(settings).staleness_values(),
    }


def key_of(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def model_source(key_values: dict) -> str:
    """Who wrote a model annotation: the model id and the revision or checkpoint hash."""
    model = key_values["model"]
    return f"{model['model_id']}@{model['revision'] or model['checkpoint_sha256'][:12]}"


def discovery_options(settings: Settings) -> DiscoveryOptions:
    return DiscoveryOptions(include=tuple(settings["scan.include"]),
                            exclude=tuple(settings["scan.exclude"]),
                            extensions=tuple(settings["scan.extensions"]),
                            include_hidden=settings["scan.hidden"])


def stream_choice(text: str) -> StreamChoice:
    """`default`, an audio stream number, or a language tag."""
    if text == "default":
        return StreamChoice()
    if text.isdigit():
        return StreamChoice(index=int(text))
    return StreamChoice(language=text)


def read_options(settings: Settings) -> ReadOptions:
    return ReadOptions(stream=stream_choice(settings["decode.audio_stream"]),
                       segments=segment_settings(settings),
                       decode=DecodeOptions(timeout_base_s=settings["decode.timeout_base"],
                                            min_speed=settings["decode.min_speed"]))


def ray_address(settings: Settings) -> str:
    return settings["ray.address"] or os.environ.get("RAY_ADDRESS", "")


def pool_spec(settings: Settings, cluster: Cluster) -> PoolSpec:
    """One replica per GPU share; without GPUs the configured CPU replicas, leaving a CPU
    for decoding (a replica never asks Ray for a GPU that is not there: it would wait forever)."""
    batch = settings["model.batch_size"]
    per_gpu = settings["ray.gpus_per_replica"]
    if cluster.gpus >= per_gpu:
        replicas = math.floor(cluster.gpus / per_gpu + 1e-9)
        return PoolSpec(replicas, per_gpu, cpus_per_replica=0.5, batch_size=batch)
    replicas = settings["ray.cpu_replicas"]
    spare = max(cluster.cpus - 1.0, 0.2)
    return PoolSpec(replicas, 0.0, cpus_per_replica=min(1.0, spare / replicas), batch_size=batch)


def tagger_spec(settings: Settings, model: ModelChoice, cluster: Cluster,
                pool: PoolSpec) -> TaggerSpec:
    threads = None if pool.gpus_per_replica else max(1, int(cluster.cpus // max(pool.replicas, 1)) - 1)
    return TaggerSpec(model_dir=str(model.path), model_id=model.model_id,
                      revision=model.revision, dtype=settings["model.dtype"],
                      device=settings["model.device"], tasks=tasks(settings),
                      system_prompt=settings["model.system_prompt"],
                      embedder=settings["index.embedder"],
                      index_fields=tuple(settings["index.fields"]), cpu_threads=threads)
