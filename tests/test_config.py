"""Settings: precedence, sources, validation, and that every setting is documented."""

from __future__ import annotations

import json
import tomllib
import re
from pathlib import Path

import pytest

from archivetag.config import ConfigError, defaults, defaults_text, env_name, load_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_precedence_defaults_file_environment_flags(tmp_path: Path) -> None:
    config = write(tmp_path / "a.toml", "[segment]\nlength = 20\nmin_length = 2.5\n"
                                        "[model]\nbatch_size = 4\n")
    environ = {"ARCHIVETAG_SEGMENT_LENGTH": "30", "ARCHIVETAG_MODEL_BATCH_SIZE": "8"}
    settings = load_settings(config, overrides={"model.batch_size": 2}, environ=environ)

    assert settings["segment.overlap"] == 0.0
    assert settings.sources["segment.overlap"] == "default"
    assert settings["segment.min_length"] == 2.5
    assert settings.sources["segment.min_length"] == str(config)
    assert settings["segment.length"] == 30.0
    assert settings.sources["segment.length"] == "$ARCHIVETAG_SEGMENT_LENGTH"
    assert settings["model.batch_size"] == 2
    assert settings.sources["model.batch_size"] == "command line"


def test_config_file_found_through_environment_then_user_dir(tmp_path: Path) -> None:
    named = write(tmp_path / "named.toml", "[search]\nlimit = 7\n")
    assert load_settings(environ={"ARCHIVETAG_CONFIG": str(named)})["search.limit"] == 7

    from archivetag.config import user_config_path

    user_file = user_config_path()
    user_file.parent.mkdir(parents=True)
    write(user_file, "[search]\nlimit = 9\n")
    settings = load_settings(environ={})
    assert settings["search.limit"] == 9
    assert settings.config_file == user_file


def test_home_variable_moves_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(environ={"ARCHIVETAG_HOME": str(tmp_path / "d")})
    assert settings.data_dir() == tmp_path / "d"
    assert settings.database_url() == f"sqlite:///{tmp_path / 'd' / 'archivetag.db'}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[segment]\nlenght = 5\n", "unknown setting 'segment.lenght' (did you mean 'segment.length'?)"),
        ("[segment]\nlength = 'long'\n", "segment.length = 'long': must be a number"),
        ("[segment]\nlength = 100\n", "segment.length = 100.0: must be between 1 and 60"),
        ("[search]\nmode = 'fuzzy'\n", "search.mode = 'fuzzy': must be one of semantic, keyword, hybrid"),
        ("[scan]\nhidden = 1\n", "scan.hidden = 1: must be true or false"),
        ("[segment]\noverlap = 8\n", "segment.overlap = 8.0: must be at most half of segment.length"),
        ("[tasks]\nrun = ['caption', 'mood']\n", "tasks.run names 'mood', which has no [tasks.mood] table"),
        ("[tasks.mood]\nmax_new_tokens = 8\n", "task 'mood' has no prompt"),
        ("[model\n", "is not valid TOML"),
    ],
)
def test_wrong_file_values_name_the_key_file_and_what_is_allowed(
    tmp_path: Path, text: str, expected: str
) -> None:
    config = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as raised:
        load_settings(config, environ={})
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


def test_wrong_environment_values_are_reported() -> None:
    with pytest.raises(ConfigError, match=r"\$ARCHIVETAG_MODEL_BATCH_SIZE: model.batch_size = 'many'"):
        load_settings(environ={"ARCHIVETAG_MODEL_BATCH_SIZE": "many"})



def test_other_archivetag_variables_never_fail_a_command(cli, monkeypatch) -> None:
    near = load_settings(environ={"ARCHIVETAG_SEGMENT_LENGHT": "5", "ARCHIVETAG_TORCH": "x"})
    assert near.warnings == ("$ARCHIVETAG_SEGMENT_LENGHT is not a setting and is ignored "
                             "(did you mean $ARCHIVETAG_SEGMENT_LENGTH?)",)
    assert near["segment.length"] == 10.0
    monkeypatch.setenv("ARCHIVETAG_TORCH", "torch==2.4")  # README's setup pin
    monkeypatch.setenv("ARCHIVETAG_SEARCH_LIMTI", "3")
    shown = cli("config", "show")
    assert shown.exit_code == 0
    assert shown.stderr == ("archivetag: warning: $ARCHIVETAG_SEARCH_LIMTI is not a setting and "
                            "is ignored (did you mean $ARCHIVETAG_SEARCH_LIMIT?)\n")


def test_user_defined_task_takes_the_built_in_shape(tmp_path: Path) -> None:
    config = write(tmp_path / "t.toml", "[tasks]\nrun = ['caption', 'mood']\n"
                                        "[tasks.mood]\nprompt = 'What is the mood?'\n")
    tasks = load_settings(config, environ={}).tasks()
    assert tasks["mood"] == {"prompt": "What is the mood?",
                             "max_new_tokens": defaults()["tasks.caption.max_new_tokens"]}
    assert set(tasks) >= {"caption", "tags", "transcript", "language", "genre", "mood"}


def test_lists_from_the_environment_are_comma_separated() -> None:
    settings = load_settings(environ={"ARCHIVETAG_SCAN_EXCLUDE": "*.tmp, **/cache/**"})
    assert settings["scan.exclude"] == ["*.tmp", "**/cache/**"]


def test_every_setting_has_a_comment_and_a_unique_environment_name() -> None:
    lines = defaults_text().splitlines()
    for key in defaults():
        name = key.rsplit(".", 1)[-1]
        section = ".".join(key.split(".")[:-1])
        header = next((n for n, line in enumerate(lines) if line == f"[{section}]"), -1)
        position = next(n for n, line in enumerate(lines)
                        if n > header and re.match(rf"{re.escape(name)}\s*=", line))
        above = lines[position - 1]
        documented = above.startswith("#") or (
            # a task's second field shares the comment of its table
            lines[position - 2].startswith("#") and key.startswith("tasks.")
        )
        assert documented, f"{key} has no comment in default.toml"
    names = [env_name(key) for key in defaults()]
    assert len(names) == len(set(names))


def test_config_show_reports_values_and_sources(cli, tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "[search]\nlimit = 5\n")
    result = cli("config", "show", "--config", str(config), "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["config_file"] == str(config)
    assert shown["settings"]["search.limit"] == {"value": 5, "source": str(config)}
    assert shown["settings"]["data_dir"]["source"] == "$ARCHIVETAG_HOME"

    human = cli("config", "show", "--config", str(config), "--db",
                "postgresql+psycopg://archivist:hunter2@dbhost/archive")
    document = tomllib.loads(human.stdout)  # TOML a config file could hold
    assert document["search"]["limit"] == 5 and document["tasks"]["caption"]["max_new_tokens"]
    assert f"limit = 5 # {config}" in human.stdout.splitlines()
    assert human.stdout.startswith(f"# config file: read {config}; looked for: --config, ")
    assert "hunter2" not in human.stdout and "archivist:***@dbhost" in human.stdout


def test_bad_setting_is_one_line_and_exit_2(cli, tmp_path: Path, monkeypatch) -> None:
    config = write(tmp_path / "c.toml", "[segment]\nlength = 0\n")
    result = cli("status", "--config", str(config))
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "segment.length" in result.stderr and str(config) in result.stderr
    assert "Traceback" not in result.stderr

    missing = cli("status", "--config", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr

    monkeypatch.setenv("ARCHIVETAG_SEARCH_LIMIT", "lots")
    assert cli("config", "show").exit_code == 2


def test_an_empty_task_list_is_a_settings_error(tmp_path: Path) -> None:
    config = write(tmp_path / "t.toml", "[tasks]\nrun = []\n")
    with pytest.raises(ConfigError, match="tasks.run is empty"):
        load_settings(config, environ={})


def test_config_show_says_a_token_is_set_but_never_prints_it(cli, monkeypatch) -> None:
    monkeypatch.setenv("ARCHIVETAG_SERVE_TOKEN", "s3cr3t")
    human = cli("config", "show")
    document = cli("config", "show", "--json")
    assert human.exit_code == document.exit_code == 0
    assert "s3cr3t" not in human.stdout + document.stdout
    assert tomllib.loads(human.stdout)["serve"]["token"] == "***"
    assert json.loads(document.stdout)["settings"]["serve.token"] == {
        "value": "***", "source": "$ARCHIVETAG_SERVE_TOKEN"}
    monkeypatch.delenv("ARCHIVETAG_SERVE_TOKEN")
    assert tomllib.loads(cli("config", "show").stdout)["serve"]["token"] == ""  # none set
