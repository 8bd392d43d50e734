"""A publish cut off at any step (as kill -9 would) never costs the previous good version."""

import shutil

import pytest

from core.storage.embedded import store
from core.storage.embedded.store import CURRENT, current_version_dir, load_documents
from indexer.pipeline import index_paths
from search.engine import SearchEngine
from tests.conftest import DATA, SEEDS, copy_seeds
from tests.fakes import HashEncoder


class Killed(BaseException):
    """Stands for kill -9: nothing after it runs (clean-up is switched off while it is raised)."""


def crash_at(monkeypatch, step: str) -> None:
    """Make the next publish stop dead at `step`, leaving what a killed process would leave."""
    def die(*_args, **_kwargs):
        raise Killed(step)

    monkeypatch.setattr(store.shutil, "rmtree", lambda *a, **k: None)  # a killed process cleans nothing up
    if step == "before-rename":
        monkeypatch.setattr(store.os, "rename", die)
    elif step == "between-rename-and-swap":
        monkeypatch.setattr(store, "_point_current", die)
    elif step == "current-temp-written":
        monkeypatch.setattr(store.os, "replace", die)
    elif step == "after-swap":
        monkeypatch.setattr(store, "_remove_old_versions", die)
    else:
        raise ValueError(step)


def searchable(version_dir, tmp_path, enc) -> bool:
    """Whether a version folder with the segments it lists opens and answers a search."""
    alone = tmp_path / f"alone-{version_dir.name}"
    shutil.copytree(version_dir, alone / "versions" / version_dir.name)
    for ref in store.segment_refs(store.read_manifest(version_dir)):
        shutil.copytree(version_dir.parent.parent / "segments" / ref.name, alone / "segments" / ref.name)
    (alone / CURRENT).write_text(version_dir.name + "\n", encoding="utf-8")
    return bool(SearchEngine(alone, encoder=enc).search("法律顾问", k=3).hits)


@pytest.fixture(autouse=True)
def no_merges():
    """These tests count publishes: no merge version after them (tests/core/test_segments.py kills merges)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "merge_plan", lambda refs: None)
        yield


@pytest.mark.parametrize("step", ["before-rename", "between-rename-and-swap", "current-temp-written", "after-swap"])
def test_a_publish_killed_at_any_step_keeps_the_previous_good_version(tmp_path, monkeypatch, step):
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019")
    idx, enc = tmp_path / "idx", HashEncoder()
    index_paths([corpus], idx, encoder=enc)
    shutil.copy(DATA / SEEDS["jm_ict_2024"], corpus)
    index_paths([corpus], idx, encoder=enc)
    good = current_version_dir(idx)  # the second good version; one older one is kept beside it

    shutil.copy(DATA / SEEDS["bureau_2022"], corpus)
    crash_at(monkeypatch, step)
    with pytest.raises(Killed):
        index_paths([corpus], idx, encoder=enc)
    monkeypatch.undo()
    crashed_current = current_version_dir(idx)
    assert crashed_current == good or step == "after-swap"
    assert len(SearchEngine(idx, encoder=enc).documents()) == (3 if step == "after-swap" else 2)

    shutil.copy(DATA / SEEDS["gd_ict_plan_2020"], corpus)
    summary = index_paths([corpus], idx, encoder=enc)  # the next publish recovers
    assert summary.documents == 4
    newest = current_version_dir(idx)
    kept = sorted(p.name for p in (idx / "versions").iterdir())
    assert kept == sorted([newest.name, crashed_current.name])  # the one it replaced, never an orphan instead
    assert searchable(crashed_current, tmp_path, enc) and len(load_documents(crashed_current)) >= 2
    assert not list(idx.glob(f".{CURRENT}.*")) and not list((idx / "versions").glob(".tmp-*"))


def test_repeated_crashes_between_rename_and_swap_never_delete_the_published_version(tmp_path, monkeypatch):
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019")
    idx, enc = tmp_path / "idx", HashEncoder()
    index_paths([corpus], idx, encoder=enc)
    good = current_version_dir(idx)
    for key in ("jm_ict_2024", "bureau_2022", "gd_ict_plan_2020"):
        shutil.copy(DATA / SEEDS[key], corpus)
        crash_at(monkeypatch, "between-rename-and-swap")
        with pytest.raises(Killed):
            index_paths([corpus], idx, encoder=enc)
        monkeypatch.undo()
        assert current_version_dir(idx) == good and good.exists()
    index_paths([corpus], idx, encoder=enc)
    assert sorted(p.name for p in (idx / "versions").iterdir()) == sorted([good.name, current_version_dir(idx).name])
    assert searchable(good, tmp_path, enc)


def test_versions_folder_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019")
    synced = []
    real = store._fsync_dir
    monkeypatch.setattr(store, "_fsync_dir", lambda folder: synced.append(folder.name) or real(folder))
    index_paths([corpus], tmp_path / "idx", encoder=HashEncoder())
    assert "versions" in synced and "idx" in synced
    assert synced.index("versions") < synced.index("idx")  # the version is durable before CURRENT names it
