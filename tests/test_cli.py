"""The command line as a user meets it: help, version, status, schema upgrades, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from archivetag import __version__
from archivetag.storage.database import MIGRATIONS, _alembic_config, make_engine, open_database

HEAVY_MODULES = ("torch", "transformers", "ray", "faiss", "sqlalchemy", "alembic", "numpy",
                 "starlette", "uvicorn", "jinja2")


def test_help_lists_the_command_groups(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for group in ("status", "config", "db"):
        assert group in result.stdout
    assert cli("--version").stdout.strip() == f"archivetag {__version__}"


def heavy_imports_of(*args: str) -> tuple[list[str], str]:
    """The heavy modules `archivetag ARGS` imports in a fresh process, and its stderr."""
    probe = (
        f"import sys; sys.argv = ['archivetag', *{list(args)!r}]\n"
        "from archivetag.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY_MODULES!r} if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)
    return eval(result.stdout.strip().splitlines()[-1]), result.stderr


def test_model_info_answers_without_torch_when_nothing_is_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    heavy, stderr = heavy_imports_of("model", "info", "--model", "someone/some-model")
    assert "model someone/some-model at revision main is not downloaded" in stderr
    assert "torch" not in heavy and "transformers" not in heavy


def test_make_tiny_refuses_a_folder_with_files(cli, tmp_path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    refused = cli("model", "make-tiny", str(tmp_path / "mine"))
    assert refused.exit_code == 2 and "is not empty" in refused.stderr and "--force" in refused.stderr
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("sharded", [False, True])
def test_make_tiny_files_follow_the_umask_and_it_says_how_to_use_them(cli, tmp_path,
                                                                      sharded) -> None:
    import os
    import stat

    folder = tmp_path / "tiny"
    before = os.umask(0o022)
    try:
        made = cli("model", "make-tiny", str(folder), *(["--sharded"] if sharded else []))
    finally:
        os.umask(before)
    assert made.exit_code == 0, made.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert any(name.endswith(".safetensors") for name in modes)
    assert set(modes.values()) == {0o644}, modes  # readable by Ray workers of other users
    assert f"--model {folder}" in made.stdout and f'model.id = "{folder}"' in made.stdout


def test_console_script_starts_without_heavy_imports() -> None:
    script = Path(sys.executable).with_name("archivetag")
    assert script.exists() or shutil.which("archivetag"), "the archivetag command is not installed"
    probe = (
        "import sys; sys.argv = ['archivetag', '--help']\n"
        "from archivetag.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY_MODULES!r} if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_read_commands_never_create_a_catalogue(cli, isolated_environment: Path,
                                                tmp_path: Path) -> None:
    mistyped = tmp_path / "arhcive-data"
    for read in (["status"], ["search", "dog"], ["failures"], ["index", "check"],
                 ["show", "/archive/a.wav"], ["export", "--format", "jsonl"], ["serve"]):
        result = cli(*read, "--data-dir", str(mistyped))
        assert result.exit_code == 1, (read, result.stderr)
        assert result.stderr.startswith(
            f"archivetag: error: no catalogue at {mistyped / 'archivetag.db'} ("), read
        assert not mistyped.exists(), read

    made = cli("annotations", "import", str(write_lines(tmp_path)), "--allow-unknown")
    assert made.exit_code == 0, made.stderr  # an import makes a catalogue
    files = sorted(isolated_environment.iterdir())
    report = json.loads(cli("status", "--json").stdout)
    assert report["files"] == {"pending": 1, "done": 0, "failed": 0, "skipped": 0, "missing": 0}
    assert report["database"] == f"sqlite:///{isolated_environment / 'archivetag.db'}"
    relative = cli("status", "--json", "--data-dir", os.path.relpath(isolated_environment))
    assert json.loads(relative.stdout)["database"] == report["database"]  # says where it is
    human = cli("status")
    assert human.exit_code == 0
    assert "1 pending" in human.stdout and "runs: none yet" in human.stdout
    before_command = cli("--data-dir", str(mistyped), "tags", "--data-dir",
                         str(isolated_environment), "--json")  # the command's own flag wins
    assert before_command.exit_code == 0 and json.loads(before_command.stdout) == []
    assert cli("--data-dir", str(mistyped), "status").exit_code == 1 and not mistyped.exists()

    # On SQLite the read commands answer through the standard library alone: SQLAlchemy's
    # import would take most of their start-up time (docs/performance.md).
    probe = (
        "import sys\nfrom archivetag.cli import main\n"
        "for read in (['status'], ['tags'], ['failures'], ['show', '/archive/a.wav', '--json']):\n"
        "    sys.argv = ['archivetag', *read]\n"
        "    try:\n        main()\n    except SystemExit as exit_:\n"
        "        assert not exit_.code, (read, exit_.code)\n"
        "print('sqlalchemy' in sys.modules)"
    )
    light = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           timeout=60)
    assert light.returncode == 0, light.stderr
    assert sorted(isolated_environment.iterdir()) == files  # the read commands left no file,
    # not even SQLite's -wal and -shm
    assert '"caption": "a door slams"' in light.stdout
    assert light.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize(("args", "said"), [
    (["search", "--limit", "x", "dog"], "--limit must be a whole number, not 'x' (see"),
    (["search", "-n", "0", "dog"], "--limit must be at least 1, not '0' (see"),
    (["serve", "--port", "abc"], "--port must be a whole number, not 'abc' (see"),
    (["ingest", "--reprocess", "maybe", "x"],
     "invalid value for --reprocess: 'maybe' is not one of 'none', 'stale', 'all' (see"),
    (["show"], "missing argument 'FILE'"),
    (["status", "--bogus"], "no such option: --bogus"),
    (["nosuch"], "no such command 'nosuch'"),
    (["search", "dog", "-organ"],  # a word to leave out, which the parser reads as -o
     "no such option: -organ; to leave out 'organ', put the query after --"),
])
def test_parser_errors_are_one_line_like_every_usage_error(cli, args, said) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"archivetag: error: {said}"), result.stderr
    assert result.stderr.count("\n") == 1 and "Usage:" not in result.stderr
    assert f"(see 'archivetag{' ' + args[0] if args[0] != 'nosuch' else ''} -h')" in result.stderr


def test_a_path_that_cannot_be_used_is_one_line(cli, tmp_path) -> None:
    a_file, typo = tmp_path / "a.wav", tmp_path / "typo"
    a_file.write_bytes(b"RIFF")
    for args, named, code in (
            (["--data-dir", str(a_file), "ingest", str(tmp_path)], a_file, 2),
            (["annotations", "import", str(write_lines(tmp_path)), "--data-dir", str(a_file)],
             a_file, 2),
            (["status", "--data-dir", str(a_file)], a_file, 2),
            (["db", "upgrade", "--data-dir", str(typo)], typo, 1),  # no catalogue, none made
            (["--data-dir", "", "status"], "--data-dir is empty", 2),  # never the current folder
            (["ingest", str(tmp_path), "--db", ""], "--db is empty", 2),
            (["model", "make-tiny", str(a_file / "tiny")], a_file, 1)):
        result = cli(*args)
        assert result.exit_code == code, (args, result)
        assert result.stderr.startswith("archivetag: error: ") and str(named) in result.stderr
        assert result.stderr.count("\n") == 1, (args, result.stderr)
    assert not typo.exists()


def write_lines(folder: Path) -> Path:
    lines = folder / "notes.jsonl"
    lines.write_text(json.dumps({"path": "/archive/a.wav", "start": 0, "end": 5,
                                 "caption": "a door slams"}) + "\n")
    return lines


@pytest.mark.postgres
def test_status_on_postgresql_hides_the_password(cli, postgres_server, postgres_url) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    with_password = postgres_server.url(name, password="hunter2")  # trust auth ignores it
    empty = cli("status", "--db", with_password)  # an empty database is not a catalogue
    assert empty.exit_code == 1 and "no catalogue at postgresql+psycopg://archivetag:***@" in (
        empty.stderr) and "hunter2" not in empty.stderr
    open_database(postgres_url).engine.dispose()  # as a first ingest makes it
    for args in (("status",), ("status", "--json")):
        result = cli(*args, "--db", with_password)
        assert result.exit_code == 0, result.stderr
        assert "hunter2" not in result.stdout + result.stderr
        assert "postgresql+psycopg://archivetag:***@" in result.stdout


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [  # a URL that names no database is a settings error (2); one that cannot be opened, 1
        ("not a url", 2, "not a database URL: not a url; a SQLite file is sqlite:///PATH"),
        ("/tmp/x.db", 2, "not a database URL: /tmp/x.db; a SQLite file is sqlite:///PATH"),
        ("postgresql://someone:pw@dbhost:port/db", 2, "not a database URL: <unparseable"),
        ("postgresql+psycopg://someone:pw@127.0.0.1:1/none", 1, "cannot open"),
        ("mysql+nosuchdriver://x@localhost/db", 2, "no database driver 'mysql+nosuchdriver'"),
        ("bogus://x", 2, "no database driver 'bogus'"),
    ],
)
def test_unusable_database_is_one_line(cli, url: str, code: int, message: str) -> None:
    result = cli("status", "--db", url)
    assert result.exit_code == code
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert ":pw@" not in result.stderr


def test_newer_schema_is_refused_by_every_command(cli, database_url: str) -> None:
    open_database(database_url).engine.dispose()
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    for args in (("status",), ("db", "upgrade")):
        result = cli(*args, "--db", database_url)
        assert result.exit_code == 1
        assert "newer than this archivetag knows" in result.stderr
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "ffff"
    engine.dispose()


def test_db_upgrade_migrates_an_older_database_after_a_backup(cli, database_url: str) -> None:
    revisions = [script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()]
    assert len(revisions) >= 2, "needs a schema with at least two migrations"
    older, head = revisions[1], revisions[0]
    engine = make_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), older)

    refused = cli("status", "--db", database_url)
    assert refused.exit_code == 1
    assert "run `archivetag db upgrade`" in refused.stderr

    result = cli("db", "upgrade", "--db", database_url)
    assert result.exit_code == 0, result.stderr
    assert f"-> {head}" in result.stdout
    if database_url.startswith("sqlite"):
        database_file = Path(engine.url.database)
        backups = list(database_file.parent.glob(f"{database_file.name}.{older}.*.bak"))
        assert len(backups) == 1
    assert cli("status", "--db", database_url).exit_code == 0
    assert "is current" in cli("db", "upgrade", "--db", database_url).stdout
    engine.dispose()


def test_docs_cli_md_is_the_help_of_every_command() -> None:
    from archivetag.cli.docs import render

    checked_in = (Path(__file__).parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    assert checked_in == render(), "run: .venv/bin/python -m archivetag.cli.docs > docs/cli.md"
    for python_type in ("<str>", "<list[", "<path>", "<int", "<float>", "{paths}"):
        assert python_type not in checked_in, python_type
    cut = [line for line in checked_in.splitlines() if line.endswith("...")
           and not line.endswith(("[ARGS]...", "PATHS...", "QUERY..."))]
    assert cut == []  # no description cut short


@pytest.mark.parametrize(("shell", "environment", "expected"), [
    ("bash", {"COMP_WORDS": "archivetag ind", "COMP_CWORD": "1"}, "index"),
    ("zsh", {"_TYPER_COMPLETE_ARGS": "archivetag pru"}, "prune"),
    ("fish", {"_TYPER_COMPLETE_ARGS": "archivetag ta", "_TYPER_COMPLETE_FISH_ACTION": "get-args"},
     "tags"),
    # the values of flags with fixed choices
    ("bash", {"COMP_WORDS": "archivetag search --mode ", "COMP_CWORD": "3"}, "keyword"),
    ("bash", {"COMP_WORDS": "archivetag search --type v", "COMP_CWORD": "3"}, "video"),
    ("zsh", {"_TYPER_COMPLETE_ARGS": "archivetag export --format "}, "srt"),
    ("bash", {"COMP_WORDS": "archivetag annotations import --format c", "COMP_CWORD": "4"}, "csv"),
    ("bash", {"COMP_WORDS": "archivetag ingest --reprocess ", "COMP_CWORD": "3"}, "stale"),
])
def test_shell_completion_completes_commands(shell, environment, expected) -> None:
    import os

    script = Path(sys.executable).with_name("archivetag")
    env = dict(os.environ, _ARCHIVETAG_COMPLETE=f"complete_{shell}", **environment)
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert expected in done.stdout, (done.stdout, done.stderr)


@pytest.mark.parametrize(("args", "said"), [
    (["search", "dog", "--paths", "--files"], "--files does nothing with --paths"),
    (["ingest", "/nowhere", "--dry-run", "--max-runtime", "1h"],
     "--max-runtime does nothing with --dry-run"),
    (["ingest", "/nowhere", "--dry-run", "--until", "06:00"], "--until does nothing with --dry-run"),
    (["ingest", "/nowhere", "--max-runtime", "0"], "--max-runtime must be more than 0"),
    (["ingest", "/nowhere", "--max-runtime", "0s"], "--max-runtime must be more than 0"),
])
def test_flags_that_would_do_nothing_are_usage_errors(cli, args, said) -> None:
    result = cli(*args)
    assert result.exit_code == 2 and result.stderr.startswith(f"archivetag: error: {said}"), (
        result.stderr)


def test_a_dry_run_refuses_a_log_and_writes_none(cli, tmp_path: Path) -> None:
    log = tmp_path / "ingest.log"
    result = cli("ingest", str(tmp_path), "--dry-run", "--log", str(log))
    assert result.exit_code == 2 and "--log does nothing with --dry-run" in result.stderr
    assert not log.exists()


def test_show_says_what_a_file_was_read_as_and_what_its_container_claims() -> None:
    from archivetag.cli.files import media_line

    read = {"media_type": "audio", "duration": 10.07, "claimed_duration": 7.6}
    assert media_line(read) == "audio, 00:00:10 (10.07 s); the container says 7.60 s"
    assert media_line({**read, "claimed_duration": 10.1}) == "audio, 00:00:10 (10.07 s)"
    assert media_line({**read, "claimed_duration": None}) == "audio, 00:00:10 (10.07 s)"
    imported = {"media_type": None, "duration": None, "claimed_duration": None}
    assert media_line(imported) == ""  # known only from annotations: no line
