"""The ingest pipeline: plan a run against the catalogue, read, tag, store, index, report."""
