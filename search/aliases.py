"""Alias and abbreviation groups (放管服 = 简政放权、放管结合、优化服务): an editable file, re-read when it changes.

The file is tab-separated, one group of equivalent names a line, `#` comments. The shipped one is
`search/aliases.tsv`; the `aliases` setting (FAZHI_ALIASES, --aliases) names another. Search and the atlas
both expand a query with the other names of every group one of whose names the query contains.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from core.textform import matching_form

SHIPPED = Path(__file__).with_name("aliases.tsv")
CHECK_EVERY = 1.0  # seconds between looks at the file's mtime


def fold(term: str) -> str:
    """The form aliases are compared in: NFKC, Simplified, lower case, no spaces."""
    return "".join(matching_form(term).lower().split())


def parse_aliases(text: str) -> list[tuple[str, ...]]:
    """Groups of folded names from the file's text; a group needs at least two names."""
    groups = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        names = []
        for name in line.split("\t"):
            name = fold(name)
            if name and name not in names:
                names.append(name)
        if len(names) >= 2:
            groups.append(tuple(names))
    return groups


class AliasTable:
    """Alias groups from a file, reloaded when its modification time changes (checked at most once a second)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path or SHIPPED)
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._checked = 0.0
        self._groups: list[tuple[str, ...]] = []

    @property
    def groups(self) -> list[tuple[str, ...]]:
        """The current groups (the file is re-read first when it changed)."""
        self._maybe_reload()
        return self._groups

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if self._mtime is not None and now - self._checked < CHECK_EVERY:
            return
        with self._lock:
            self._checked = now
            try:
                mtime = self.path.stat().st_mtime_ns
            except OSError:
                self._groups, self._mtime = [], -1
                return
            if mtime != self._mtime:
                self._groups = parse_aliases(self.path.read_text(encoding="utf-8"))
                self._mtime = mtime

    def expand(self, text: str) -> list[str]:
        """The other names of every group that `text` (any script) names, in file order, without repeats."""
        folded = fold(text)
        out: list[str] = []
        for group in self.groups:
            if any(name in folded for name in group):
                out += [name for name in group if name not in folded and name not in out]
        return out


_default: AliasTable | None = None
_default_lock = threading.Lock()


_configured: Path = SHIPPED


def configure(path: Path | str | None) -> None:
    """Use the settings' alias file (`aliases`: FAZHI_ALIASES, --aliases) in this process; None: the shipped one."""
    global _configured
    _configured = Path(path) if path else SHIPPED


def default_aliases() -> AliasTable:
    """The process's alias table: the configured file, else the shipped one."""
    global _default
    with _default_lock:
        if _default is None or _default.path != _configured:
            _default = AliasTable(_configured)
        return _default


def split_measure(measure: str) -> tuple[str, list[str]]:
    """A measure as typed, `农民工|进城务工人员`: its main text and its explicit aliases."""
    parts = [p.strip() for p in (measure or "").split("|")]
    parts = [p for p in parts if p]
    if not parts:
        return "", []
    return parts[0], parts[1:]
