"""Tiny-checkpoint throughput on the CPU: the floor the pipeline's own overhead is measured on.

Writes a tiny random checkpoint into a temporary directory, then times ``answer_tasks``
(encode each segment once, then caption and tags) on random 10 s segments at several batch
sizes. The output text is meaningless; the time is what counts.

    .venv/bin/python bench/cpu_model.py --batch-sizes 1 8 32
"""

from __future__ import annotations

import argparse
import logging
import platform
import tempfile
import time

import torch

from archivetag.tagger.midashenglm.generate import answer_tasks
from archivetag.tagger.midashenglm.loader import load_model
from archivetag.tagger.midashenglm.tiny import make_tiny
from archivetag.tagger.tasks import DEFAULT_TASKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=10.0, help="segment length")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per batch size")
    parser.add_argument("--tasks", nargs="+", default=["caption", "tags"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    tasks = [DEFAULT_TASKS[name] for name in args.tasks]
    samples = int(args.seconds * 16000)
    generator = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor()}")
    print(f"tiny checkpoint, fp32, {args.seconds:g} s segments, tasks {', '.join(args.tasks)}")
    print("| batch | segments/s | s per batch | new tokens per segment |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as directory:
        loaded = load_model(make_tiny(directory), dtype="float32", device="cpu")
        for batch_size in args.batch_sizes:
            waveforms = [0.1 * torch.randn(samples, generator=generator) for _ in range(batch_size)]
            answer_tasks(loaded, waveforms, tasks)  # warm-up
            started = time.perf_counter()
            for _ in range(args.repeats):
                answers = answer_tasks(loaded, waveforms, tasks)
            per_batch = (time.perf_counter() - started) / args.repeats
            tokens = sum(len(a.token_ids) for row in answers for a in row.values()) / batch_size
            rate = batch_size / per_batch
            print(f"| {batch_size} | {rate:.1f} | {per_batch:.3f} | {tokens:.0f} |")


if __name__ == "__main__":
    main()
