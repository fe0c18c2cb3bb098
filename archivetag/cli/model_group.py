"""`archivetag model`: get the checkpoint, see what it is, or write a tiny one for trying out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from archivetag.cli.common import PlainHelp, CommandList, JsonFlag, print_json, settings_options
from archivetag.config import Settings

app = typer.Typer(cls=CommandList, help="Download, inspect or make model checkpoints.", no_args_is_help=True)

ModelFlag = Annotated[Optional[str], typer.Option(
    "--model", help="Checkpoint directory or hub id (default: the model.id setting).")]

TINY_NOTE = ("a tiny RANDOM checkpoint: it runs the whole pipeline offline, but its captions "
             "and tags are meaningless. For real results: archivetag model pull")


@app.command("pull", cls=PlainHelp)
@settings_options(setting_flags={"model": "model.id"})
def pull(settings: Settings, model: ModelFlag = None) -> None:
    """Download the configured checkpoint (only the files archivetag loads) into the hub cache."""
    from archivetag.tagger.midashenglm.hub import pull as download

    model_id = settings["model.id"]
    if Path(model_id).expanduser().is_dir():
        typer.echo(f"{model_id} is a local directory: nothing to download")
        return
    location = download(model_id, settings["model.revision"] or None)
    typer.echo(f"{model_id} at revision {location.revision} is in {location.path}")


@app.command("info", cls=PlainHelp)
@settings_options(setting_flags={"model": "model.id"})
def info(settings: Settings, model: ModelFlag = None, json_output: JsonFlag = False) -> None:
    """Show the configured checkpoint: where it is, its size, dtype and parameter count."""
    from dataclasses import asdict

    from archivetag.tagger.midashenglm.hub import locate

    location = locate(settings["model.id"], settings["model.revision"] or None)
    from archivetag.tagger.midashenglm.info import model_info  # torch: only once it is there

    details = model_info(location.path)
    report = {"model": settings["model.id"], "revision": location.revision, **asdict(details)}
    if json_output:
        print_json(report)
        return
    typer.echo(f"model       {settings['model.id']}" + (
        f" @ {location.revision}" if location.revision else ""))
    typer.echo(f"path        {details.path}")
    typer.echo(f"parameters  {details.parameters:,}")
    typer.echo(f"stored as   {', '.join(details.storage_dtypes)} in {details.weight_files} "
               f"file(s), {details.size_bytes / 1e9:.2f} GB")
    decoder = details.decoder
    typer.echo(f"decoder     {decoder.num_layers} layers, hidden {decoder.hidden_size}, "
               f"vocab {decoder.vocab_size}, rope theta {decoder.rope_theta:g}, "
               f"{'tied' if decoder.tied_embeddings else 'untied'} head")
    encoder = details.encoder
    typer.echo(f"encoder     {encoder.depth} blocks, width {encoder.embed_dim}, "
               f"{encoder.num_heads} heads")
    if details.defaults_used:
        typer.echo(f"defaults    not in config.json, class defaults used: "
                   f"{', '.join(details.defaults_used)}")
    if details.tiny:
        typer.echo(f"WARNING     {TINY_NOTE}")


@app.command("make-tiny", cls=PlainHelp)
def make_tiny(
    directory: Annotated[Path, typer.Argument(help="Where to write the checkpoint (a new or empty folder).", metavar="DIR")],
    sharded: Annotated[bool, typer.Option("--sharded", help="Write several safetensors shards with an index.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the weights.", metavar="N")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Write into a folder that holds files already.")] = False,
) -> None:
    """Write a tiny random checkpoint in the official layout (for offline tries and tests)."""
    from archivetag.errors import UsageError

    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise UsageError(f"{directory} is not empty: choose a new folder, or pass --force "
                         "to write the checkpoint's files over what is there")
    from archivetag.tagger.midashenglm.tiny import make_tiny as write

    write(directory, sharded=sharded, seed=seed)
    where = directory.resolve()
    typer.echo(f"wrote {where}: {TINY_NOTE}")
    typer.echo(f"use it: archivetag ingest --model {where} PATH…, or set model.id = "
               f"\"{where}\" in the config file (or $ARCHIVETAG_MODEL_ID)")
