"""Settings: one table, flags over variables over the config file over defaults, and `fazhi config`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.settings import OPTIONS, Settings


def test_precedence_flag_env_file_default(tmp_path):
    config = tmp_path / "fazhi.toml"
    config.write_text('index = "from-file"\nmodel = "file/model"\nmilvus_collection = "c_file"\n', encoding="utf-8")
    s = Settings.load({"index": "from-flag"}, environ={"FAZHI_MODEL": "env/model", "FAZHI_CONFIG": str(config)})
    assert (s.index, s.model, s.milvus_collection, s.backend) == ("from-flag", "env/model", "c_file", "embedded")
    assert s.source_of("index") == "flag --index" and s.source_of("model") == "env FAZHI_MODEL"
    assert s.source_of("milvus_collection") == f"file {config}" and s.source_of("backend") == "default"


def test_lists_booleans_and_bad_values(tmp_path):
    s = Settings.load(environ={"FAZHI_REINDEX_PATHS": "/a:/b", "HF_HUB_OFFLINE": "1"})
    assert s.reindex_paths == ("/a", "/b") and s.hub_offline is True
    assert Settings.load(environ={"HF_HUB_OFFLINE": "0"}).hub_offline is False
    with pytest.raises(ValueError, match="unknown backend 'solr'"):
        Settings.load(environ={"FAZHI_BACKEND": "solr"})
    bad = tmp_path / "bad.toml"
    bad.write_text('colour = "red"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="unknown settings colour"):
        Settings.load(config_file=bad, environ={})
    bad.write_text("index = [", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid TOML"):
        Settings.load(config_file=bad, environ={})
    with pytest.raises(ValueError, match="does not exist"):
        Settings.load(config_file=tmp_path / "none.toml", environ={})


def test_secrets_are_masked_and_every_option_is_described():
    rows = dict((n, v) for n, v, _ in Settings(admin_token="s3cret", milvus_token="").describe())
    assert rows["admin_token"] == "***" and rows["milvus_token"] == ""
    assert set(rows) == {o.name for o in OPTIONS}


def test_fazhi_config_prints_values_and_sources(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cli.main", "--index", str(tmp_path / "i"), "config"],
                         capture_output=True, text=True, timeout=60,
                         env={"FAZHI_MODEL": "x/y", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()}
    assert "[flag --index]" in lines["index"] and "x/y" in lines["model"] and "[env FAZHI_MODEL]" in lines["model"]
    assert "[default]" in lines["backend"]


def test_nothing_but_settings_reads_the_environment():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readers = [str(p.relative_to(root)) for folder in ("core", "indexer", "search", "web", "cli")
               for p in (root / folder).rglob("*.py") if "os.environ" in p.read_text(encoding="utf-8")]
    assert readers == ["core/settings.py"]


def test_readme_shows_the_settings_table():
    from pathlib import Path

    from core.settings import settings_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme
