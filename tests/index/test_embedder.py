"""The query embedder (numpy, no torch) gives the vectors ingest stores (transformers)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from archivetag.index.embedder import DEFAULT_EMBEDDER, load_embedder

TEXTS = [
    "dog barking",
    "A man speaks over intermittent keyboard taps",
    "Ünïcödé ☃ 日本語 and emoji 🐕",
    "rain " * 400,  # past the 256-token limit: truncated the same way
    "",
]


def test_query_vectors_equal_ingest_vectors_and_sentence_transformers() -> None:
    light = load_embedder(DEFAULT_EMBEDDER, for_queries=True)
    full = load_embedder(DEFAULT_EMBEDDER)
    assert type(light).__name__ == "NumpyBertEmbedder"
    assert type(full).__name__ == "TorchEmbedder"
    query_vectors, ingest_vectors = light.embed(TEXTS), full.embed(TEXTS)
    assert query_vectors.shape == ingest_vectors.shape == (len(TEXTS), 384)
    assert np.abs(query_vectors - ingest_vectors).max() < 1e-5
    # One at a time (as a search does) equals in a batch (as ingest does).
    assert np.abs(light.embed(TEXTS[1:2])[0] - ingest_vectors[1]).max() < 1e-5

    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(full.spec.path), device="cpu").encode(
        TEXTS, normalize_embeddings=True)
    assert np.abs(reference - ingest_vectors).max() < 1e-5


def test_embedding_a_query_does_not_import_torch() -> None:
    code = ("import sys; from archivetag.index.embedder import load_embedder; "
            f"load_embedder({DEFAULT_EMBEDDER!r}, for_queries=True).embed(['dog']); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_similar_text_is_nearer_than_an_unrelated_one() -> None:
    vectors = load_embedder(DEFAULT_EMBEDDER, for_queries=True).embed(
        ["a dog barks", "barking of a dog", "violin concerto"])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
