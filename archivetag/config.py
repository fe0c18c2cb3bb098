"""Settings: defaults < config file < ARCHIVETAG_* environment < command-line flags.

`default.toml` (shipped in the package, linked as configs/default.toml) is the one declaration
of every setting and its default; a setting's type is its default's type. What a default's
type cannot say (choices, ranges) is in `CONSTRAINTS`. Tables under `[tasks]` are open: a user
may add a task, shaped like the built-in ones.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from archivetag.errors import UsageError
from archivetag.pipeline.faults import FAULT_ENV  # a test-only hook, not a setting

CONFIG_ENV = "ARCHIVETAG_CONFIG"

HOME_ENV = "ARCHIVETAG_HOME"  # the documented short name for ARCHIVETAG_DATA_DIR
ENV_PREFIX = "ARCHIVETAG_"
TASK_PREFIX = "tasks."
TASK_TEMPLATE = "caption"  # user tasks take the shape of this built-in one


class ConfigError(UsageError):
    """A setting that is wrong; the message is one line a user can act on."""


def _choice(*allowed: str) -> Callable[[Any], str | None]:
    return lambda v: None if v in allowed else f"must be one of {', '.join(allowed)}"


def _between(low: float, high: float) -> Callable[[Any], str | None]:
    return lambda v: None if low <= v <= high else f"must be between {low:g} and {high:g}"


def _subset(*allowed: str) -> Callable[[Any], str | None]:
    return lambda v: (
        None if set(v) <= set(allowed) else f"may hold only {', '.join(allowed)}"
    )


CONSTRAINTS: dict[str, Callable[[Any], str | None]] = {
    "model.dtype": _choice("auto", "bfloat16", "float16", "float32"),
    "model.device": _choice("auto", "cuda", "cpu"),
    "model.batch_size": _between(1, 4096),
    "segment.length": _between(1, 60),
    "segment.overlap": _between(0, 30),
    "segment.min_length": _between(0.1, 60),
    "segment.silence_db": _between(-200, 0),
    "decode.timeout_base": _between(1, 86400),
    "decode.min_speed": _between(0.01, 10000),
    "ray.local_gpus": _between(-1, 4096),
    "ingest.max_attempts": _between(1, 1000),
    "ingest.min_free_mb": _between(0, 10**9),
    "ray.gpus_per_replica": _between(0.01, 64),
    "ray.cpu_replicas": _between(1, 4096),
    "index.fields": _subset("caption", "tags", "transcript"),
    "index.exact_max": _between(1, 10**10),
    "index.nprobe": _between(1, 65536),
    "index.max_lag": _between(0, 10**10),
    "search.mode": _choice("semantic", "keyword", "hybrid"),
    "search.limit": _between(1, 100000),
    "search.keyword_weight": _between(0, 10),
    "search.threads": _between(1, 1024),
    "serve.port": _between(1, 65535),
    "serve.max_transcodes": _between(1, 64),
}


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def defaults_text() -> str:
    return resources.files("archivetag").joinpath("default.toml").read_text(encoding="utf-8")


def defaults() -> dict[str, Any]:
    """Every setting's default, flat: {"model.id": "…", "tasks.caption.prompt": "…", …}."""
    return _flatten(tomllib.loads(defaults_text()))


def env_name(key: str) -> str:
    return ENV_PREFIX + key.replace(".", "_").upper()


def user_config_path() -> Path:
    from platformdirs import user_config_path as config_dir

    return config_dir("archivetag") / "config.toml"


@dataclass(frozen=True)
class Settings:
    """The effective settings, flat by dotted key, with where each value came from."""

    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    config_file: Path | None = None
    warnings: tuple[str, ...] = ()  # near misses among the environment's ARCHIVETAG_* names

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def tasks(self) -> dict[str, dict[str, Any]]:
        """Every task table (built-in and user-defined): {name: {"prompt": …, …}}."""
        tasks: dict[str, dict[str, Any]] = {}
        for key, value in self.values.items():
            if key.startswith(TASK_PREFIX) and key.count(".") == 2:
                _, name, field_name = key.split(".")
                tasks.setdefault(name, {})[field_name] = value
        return tasks

    def data_dir(self) -> Path:
        """Where the database, index, logs and lock live; UsageError when that is a file."""
        if not self.values["data_dir"]:
            from platformdirs import user_data_path

            return user_data_path("archivetag")
        # absolute, so that what is shown (the database URL in `status`) says where it is
        path = Path(os.path.abspath(Path(self.values["data_dir"]).expanduser()))
        if path.exists() and not path.is_dir():
            raise UsageError(f"the data dir {path} is a file, not a folder (--data-dir, "
                             "$ARCHIVETAG_HOME)")
        return path

    def database_url(self) -> str:
        return self.values["db"] or f"sqlite:///{self.data_dir() / 'archivetag.db'}"


class _Resolver:
    """Checks each incoming value against the declared settings and records its source."""

    def __init__(self) -> None:
        self.declared = defaults()
        self.values = dict(self.declared)
        self.sources = {key: "default" for key in self.declared}

    def template_for(self, key: str) -> Any:
        """The default that gives `key` its type; user tasks borrow the template task's."""
        if key in self.declared:
            return self.declared[key]
        parts = key.split(".")
        if key.startswith(TASK_PREFIX) and len(parts) == 3:
            template = f"{TASK_PREFIX}{TASK_TEMPLATE}.{parts[2]}"
            if template in self.declared:
                return self.declared[template]
        return None

    def set(self, key: str, value: Any, source: str, *, from_text: bool = False) -> None:
        template = self.template_for(key)
        if template is None:
            hint = difflib.get_close_matches(key, self.declared, n=1)
            extra = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise ConfigError(f"{source}: unknown setting '{key}'{extra}")
        if from_text:
            value = _parse_text(value, template, key, source)
        value = _coerce(value, template, key, source)
        problem = CONSTRAINTS.get(key, lambda v: None)(value)
        if problem:
            raise ConfigError(f"{source}: {key} = {value!r}: {problem}")
        self.values[key] = value
        self.sources[key] = source

    def check_whole(self) -> None:
        """Checks what no single value can: relations between settings, task tables."""
        if self.values["segment.overlap"] > self.values["segment.length"] / 2:
            raise ConfigError(f"{self.sources['segment.overlap']}: segment.overlap = "
                              f"{self.values['segment.overlap']!r}: must be at most half of "
                              f"segment.length ({self.values['segment.length']:g})")
        if self.values["segment.min_length"] > self.values["segment.length"]:
            raise ConfigError(f"{self.sources['segment.min_length']}: segment.min_length = "
                              f"{self.values['segment.min_length']!r}: must not exceed "
                              f"segment.length ({self.values['segment.length']:g})")
        names = {key.split(".")[1] for key in self.values if key.startswith(TASK_PREFIX)
                 and key.count(".") == 2}
        for name in names:
            if f"{TASK_PREFIX}{name}.prompt" not in self.values:
                raise ConfigError(f"task '{name}' has no prompt: add tasks.{name}.prompt")
            self.values.setdefault(f"{TASK_PREFIX}{name}.max_new_tokens",
                                   self.declared[f"{TASK_PREFIX}{TASK_TEMPLATE}.max_new_tokens"])
        if not self.values["tasks.run"]:
            raise ConfigError(f"{self.sources['tasks.run']}: tasks.run is empty: name at least "
                              "one task (caption, tags, ...)")
        for name in self.values["tasks.run"]:
            if name not in names:
                raise ConfigError(
                    f"{self.sources['tasks.run']}: tasks.run names '{name}', which has no "
                    f"[tasks.{name}] table (known: {', '.join(sorted(names))})"
                )


def _type_name(template: Any) -> str:
    if isinstance(template, list):
        return "a list of text" if all(isinstance(v, str) for v in template) else "a list"
    return {bool: "true or false", int: "a whole number", float: "a number",
            str: "text"}[type(template)]


def _coerce(value: Any, template: Any, key: str, source: str) -> Any:
    wrong = ConfigError(f"{source}: {key} = {value!r}: must be {_type_name(template)}")
    if isinstance(template, bool):
        if not isinstance(value, bool):
            raise wrong
    elif isinstance(template, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        value = float(value)
    elif isinstance(template, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
    elif isinstance(template, str):
        if not isinstance(value, str):
            raise wrong
    elif isinstance(template, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong
    return value


def _parse_text(text: str, template: Any, key: str, source: str) -> Any:
    """Reads an environment variable or flag value as the setting's type."""
    try:
        if isinstance(template, bool):
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(template, float):
            return float(text)
        if isinstance(template, int):
            return int(text)
    except ValueError:
        raise ConfigError(f"{source}: {key} = {text!r}: must be {_type_name(template)}") from None
    if isinstance(template, list):
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def _read_file(path: Path) -> dict[str, Any]:
    try:
        return _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"config file {path} cannot be read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None


def config_file_candidates(environ: dict[str, str] | None = None) -> list[str]:
    """Where `load_settings` looks for a config file, in order (the first given wins)."""
    environ = os.environ if environ is None else environ
    return ["--config", f"${CONFIG_ENV}" + (f" ({environ[CONFIG_ENV]})"
                                             if environ.get(CONFIG_ENV) else " (unset)"),
            str(user_config_path())]


def load_settings(
    config_file: Path | str | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """The effective settings; `overrides` are command-line flags by dotted key (None = unset)."""
    environ = os.environ if environ is None else environ
    resolver = _Resolver()

    path = Path(config_file) if config_file else None
    if path is None and environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV])
    if path is None and user_config_path().is_file():
        path = user_config_path()
    if path is not None:
        path = path.expanduser()
        for key, value in _read_file(path).items():
            resolver.set(key, value, str(path))

    if environ.get(HOME_ENV):
        resolver.set("data_dir", environ[HOME_ENV], f"${HOME_ENV}")
    by_env_name = {env_name(key): key for key in resolver.declared}
    warnings = []
    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX) or name in (CONFIG_ENV, HOME_ENV, FAULT_ENV):
            continue
        if name in by_env_name:
            resolver.set(by_env_name[name], text, f"${name}", from_text=True)
        elif hint := _near_miss(name, by_env_name):
            warnings.append(f"${name} is not a setting and is ignored (did you mean ${hint}?)")

    for key, value in (overrides or {}).items():
        if value is not None:
            resolver.set(key, value, "command line")

    resolver.check_whole()
    return Settings(values=resolver.values, sources=resolver.sources, config_file=path,
                    warnings=tuple(warnings))


def _near_miss(name: str, known: dict[str, str]) -> str | None:
    """The setting variable `name` was probably meant to be: another ARCHIVETAG_* variable
    (e.g. ARCHIVETAG_TORCH, read by scripts/setup) is none of archivetag's business."""
    suffixes = {known_name[len(ENV_PREFIX):]: known_name for known_name in known}
    close = difflib.get_close_matches(name[len(ENV_PREFIX):], suffixes, n=1, cutoff=0.8)
    return suffixes[close[0]] if close else None
