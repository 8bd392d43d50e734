"""The fazhi console command, run as a user would."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import DATA, SEEDS


def fazhi(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.model
def test_search_and_similar_print_json(seed_index):
    r = fazhi("--index", str(seed_index), "search", "法律顧問", "--per-doc", "1", "--json")
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)["results"]
    assert SEEDS["jm_ict_2024"] in {h["source"] for h in results}
    r = fazhi("--index", str(seed_index), "similar", "--passage", results[0]["passage_id"], "-k", "3", "--json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["results"]) == 3


def test_missing_index_is_one_clear_line(tmp_path):
    r = fazhi("--index", str(tmp_path / "none"), "search", "法律顾问")
    assert r.returncode == 2
    assert "no index in" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_without_an_index_is_one_clear_line(tmp_path, workers):
    r = fazhi("--index", str(tmp_path / "none"), "serve", "--port", "0", "--workers", workers)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("no index in") == 1 and "Traceback" not in r.stderr


@pytest.mark.model
def test_index_with_index_env_and_summary(tmp_path):
    target = tmp_path / "idx"
    r = fazhi("index", str(DATA / SEEDS["bureau_2022"]), str(tmp_path / "missing.txt"),
              env={"FAZHI_INDEX": str(target)})
    assert r.returncode == 0, r.stderr
    assert "1 added" in r.stdout and "missing.txt: no such file" in r.stdout
    assert "\r" not in r.stderr and "passage/s" not in r.stderr  # no progress bar when not on a terminal
    assert (target / "CURRENT").exists()


@pytest.mark.model
def test_library_debug_logs_only_with_verbose(tmp_path):
    quiet = fazhi("--index", str(tmp_path / "a"), "index", str(DATA / SEEDS["bureau_2022"]))
    assert quiet.returncode == 0, quiet.stderr
    assert "faiss.loader" not in quiet.stderr and "DEBUG" not in quiet.stderr
    loud = fazhi("-v", "--index", str(tmp_path / "b"), "index", str(DATA / SEEDS["bureau_2022"]))
    assert loud.returncode == 0 and "faiss.loader: Loading faiss" in loud.stderr  # a library's debug line


@pytest.mark.model
def test_first_run_says_it_builds_the_offline_model(tmp_path):
    r = fazhi("--runtime", "torch", "--index", str(tmp_path / "idx"), "index", str(DATA / SEEDS["bureau_2022"]),
              env={"FAZHI_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    assert "first run: building the offline embedding model" in r.stderr and "once, about" in r.stderr
    again = fazhi("--runtime", "torch", "--index", str(tmp_path / "idx"), "list",
                  env={"FAZHI_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"})
    assert "first run" not in again.stderr
