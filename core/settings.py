"""One frozen Settings, built once at the edge (CLI, app factory) from flags, FAZHI_* variables and a file.

OPTIONS is the one table of every setting: the CLI builds its flags from it, `fazhi config` prints it with
where each value came from, and the README's settings table is written from it. Nothing else in the
project reads os.environ: the CLI and the app factory call `Settings.load()` and pass the result down.
Precedence: a flag, then the environment, then the config file (`--config` or FAZHI_CONFIG, TOML), then
the default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

BACKENDS = ("embedded", "milvus")
RUNTIMES = ("onnx-int8", "torch")
DEFAULT_MODEL = "intfloat/multilingual-e5-small"
CONFIG_ENV = "FAZHI_CONFIG"


@dataclass(frozen=True)
class Option:
    """One setting: its attribute, variable, flag, default and meaning."""

    name: str
    env: str
    flag: str | None
    help: str
    choices: tuple[str, ...] = ()
    secret: bool = False  # shown as *** by `fazhi config`


OPTIONS: tuple[Option, ...] = (
    Option("index", "FAZHI_INDEX", "--index", "index folder of the embedded backend"),
    Option("backend", "FAZHI_BACKEND", "--backend", "where the index lives: embedded (FAISS + bm25s + SQLite "
           "in the index folder) or milvus", BACKENDS),
    Option("milvus_uri", "FAZHI_MILVUS_URI", "--milvus-uri", "Milvus Lite .db path or server URI such as "
           "http://host:19530"),
    Option("milvus_token", "FAZHI_MILVUS_TOKEN", "--milvus-token", "Milvus token: user:password or an API key",
           secret=True),
    Option("milvus_collection", "FAZHI_MILVUS_COLLECTION", "--milvus-collection",
           "name prefix of the index's collections in Milvus"),
    Option("model", "FAZHI_MODEL", "--model", "embedding model: hub id or local sentence-transformers folder"),
    Option("runtime", "FAZHI_RUNTIME", "--runtime", "encoder runtime: onnx-int8 (int8 ONNX build of the "
           "model) or torch (fp32)", RUNTIMES),
    Option("cache_dir", "FAZHI_CACHE_DIR", "--cache-dir", "where the built model is cached"),
    Option("admin_token", "FAZHI_ADMIN_TOKEN", None, "bearer token of the admin endpoints; without it they "
           "do not exist", secret=True),
    Option("upload_dir", "FAZHI_UPLOAD_DIR", None, "where admin uploads are kept (default: uploads/ in the "
           "index folder)"),
    Option("reindex_paths", "FAZHI_REINDEX_PATHS", None, "folders the admin re-index reads besides the "
           "uploads (separated by ':')"),
    Option("aliases", "FAZHI_ALIASES", "--aliases", "alias and abbreviation file used by search and the "
           "atlas (default: the one shipped in search/)"),
    Option("hub_offline", "HF_HUB_OFFLINE", None, "Hugging Face's own switch: never try the hub"),
)
OPTION = {o.name: o for o in OPTIONS}


def default_cache_dir(environ: Mapping[str, str]) -> str:
    """XDG_CACHE_HOME/fazhi-search, else ~/.cache/fazhi-search."""
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return str(Path(base) / "fazhi-search")


@dataclass(frozen=True)
class Settings:
    """The effective configuration of one process."""

    index: str = "index"
    backend: str = "embedded"
    milvus_uri: str = ""
    milvus_token: str = ""
    milvus_collection: str = "fazhi"
    model: str = DEFAULT_MODEL
    runtime: str = "onnx-int8"
    cache_dir: str = field(default_factory=lambda: default_cache_dir({}))
    admin_token: str = ""
    upload_dir: str = ""
    reindex_paths: tuple[str, ...] = ()
    aliases: str = ""
    hub_offline: bool = False
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)  # (name, where its value came from)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.runtime not in RUNTIMES:
            raise ValueError(f"unknown encoder runtime {self.runtime!r}; choose one of {', '.join(RUNTIMES)}")

    @classmethod
    def load(cls, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None,
             config_file: str | Path | None = None) -> "Settings":
        """Settings from flags (None means not given), the environment and an optional TOML file."""
        environ = os.environ if environ is None else environ
        flags = {k: v for k, v in (flags or {}).items() if v is not None}
        config_file = config_file or environ.get(CONFIG_ENV) or None
        from_file = _read_config(Path(config_file)) if config_file else {}
        values: dict[str, Any] = {"cache_dir": default_cache_dir(environ)}
        sources: dict[str, str] = {}
        for option in OPTIONS:
            if option.name in flags:
                values[option.name], sources[option.name] = flags[option.name], f"flag {option.flag}"
            elif environ.get(option.env):
                values[option.name], sources[option.name] = environ[option.env], f"env {option.env}"
            elif option.name in from_file:
                values[option.name], sources[option.name] = from_file[option.name], f"file {config_file}"
        values = {k: _coerce(k, v) for k, v in values.items()}
        return cls(**values, sources=tuple(sources.items()))

    def with_(self, **changes: Any) -> "Settings":
        """A copy with some values replaced (tests and embedding callers)."""
        return replace(self, **changes)

    def source_of(self, name: str) -> str:
        """Where a setting's value came from: a flag, a variable, the file, or the default."""
        return dict(self.sources).get(name, "default")

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, shown value, source) for every setting, secrets masked."""
        rows = []
        for option in OPTIONS:
            value = getattr(self, option.name)
            shown = ("***" if value else "") if option.secret else (
                os.pathsep.join(value) if isinstance(value, tuple) else str(value))
            rows.append((option.name, shown, self.source_of(option.name)))
        return rows


def settings_table() -> str:
    """The Markdown table of every setting, as the README shows it (a test keeps the two the same)."""
    defaults = Settings(cache_dir="~/.cache/fazhi-search")
    lines = ["| setting (TOML key) | flag | variable | default | what |", "|---|---|---|---|---|"]
    for o in OPTIONS:
        value = getattr(defaults, o.name)
        shown = os.pathsep.join(value) if isinstance(value, tuple) else str(value)
        lines.append(f"| `{o.name}` | {f'`{o.flag}`' if o.flag else '–'} | `{o.env}` | {f'`{shown}`' if shown else '–'} "
                     f"| {o.help} |")
    return "\n".join(lines)


def _read_config(path: Path) -> dict[str, Any]:
    """The settings in a TOML file; unknown keys are refused with their names."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(OPTION))
    if unknown:
        raise ValueError(f"config file {path}: unknown settings {', '.join(unknown)}; known: {', '.join(OPTION)}")
    return data


def _coerce(name: str, value: Any) -> Any:
    """A flag, variable or file value as the type its Settings field has."""
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).strip().lower() not in ("", "0", "false", "no")
    if kind == "tuple[str, ...]":
        if isinstance(value, str):
            return tuple(p for p in value.split(os.pathsep) if p)
        return tuple(str(p) for p in value)
    if not isinstance(value, str):
        raise ValueError(f"setting {name} must be a string, not {type(value).__name__}")
    return value
