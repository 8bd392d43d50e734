"""Reading report files (.txt .md .html .jsonl): format and encoding → raw documents."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")
SIDECAR_SUFFIX = ".meta.json"
# Tried in order after BOM detection; gb18030 is a superset of GBK/GB2312.
FALLBACK_ENCODINGS = ("utf-8", "gb18030", "big5")


class SourceError(ValueError):
    """A file (or one JSONL line) that cannot be read as a document; the message names it and says why."""


@dataclass
class RawDocument:
    """A document as read from its source, before cleaning."""

    doc_id: str
    source: str  # path (and #line for JSONL) it came from
    name: str  # file name shown to users
    text: str
    title: str = ""
    meta: dict = field(default_factory=dict)


def doc_id_for(source: str) -> str:
    """Stable id of a document: a hash of where it came from."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]


def decode_bytes(data: bytes, path: Path) -> str:
    """Decode by BOM, else the first of UTF-8, GB18030, Big5 that decodes cleanly."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:4096]:
        raise SourceError(f"{path}: looks like a binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = []
    for encoding in FALLBACK_ENCODINGS[1:]:
        try:
            candidates.append(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    if not candidates:
        raise SourceError(f"{path}: cannot decode as UTF-8, GB18030 or Big5")
    # Big5 bytes often decode as GB18030 without error, into nonsense: keep the likelier Chinese.
    return max(candidates, key=chinese_likeness)


# The most frequent characters of Chinese text, in both scripts.
COMMON_CHARS = frozenset(
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经"
    "十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开合还因由其些然前外天政四日那社义事平形相全表"
    "间样与关各重新线内数正心反明看原又利比或但质气第向道命此变条只没结解问意建月公无系很情者最立代想已通并提直题党程展五果员位入常文总"
    "次品式活设及管特件长求基资边流路级少图统接知较将组见计别期根论运农指区强放决被做必先回则任取据处府研为們個國時來於對會發動過說產種"
    "後學經進著電裡實兩體機當點業應開還與關間樣線內數質氣變條結問題黨員總設長資邊級圖統較將組見計別論運農區強決處"
)


def chinese_likeness(text: str) -> int:
    """Higher for text that reads like Chinese: common characters up, private-use and kana down."""
    sample = text[:20000]
    common = sum(ch in COMMON_CHARS for ch in sample)
    odd = sum(1 for ch in sample if "\ue000" <= ch <= "\uf8ff" or "\u3040" <= ch <= "\u30ff" or "\u2500" <= ch <= "\u257f")
    return 2 * common - 5 * odd


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page, one block element per line, scripts and navigation dropped."""

    SKIP = {"script", "style", "nav", "header", "footer", "noscript", "template", "iframe", "select"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "td", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
            return
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """(page title, visible text) of an HTML document."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = re.sub(r"[ \t]+\n", "\n", "".join(parser.parts))
    return parser.title, re.sub(r"\n{3,}", "\n\n", text)


def read_sidecar(path: Path) -> dict:
    """Metadata overrides from NAME.meta.json beside a file ({} when there is none)."""
    sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
    if not sidecar.exists():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"{sidecar}: invalid metadata sidecar: {exc}") from exc
    if not isinstance(data, dict):
        raise SourceError(f"{sidecar}: metadata sidecar must be a JSON object")
    return data


def read_file(path: Path) -> Iterator[RawDocument | SourceError]:
    """The documents in one file; a bad JSONL line yields a SourceError and reading goes on."""
    suffix = path.suffix.lower()
    source = str(path.resolve())
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield SourceError(f"{path}: cannot read: {exc.strerror or exc}")
        return
    try:
        text = decode_bytes(data, path)
        meta = read_sidecar(path)
    except SourceError as exc:
        yield exc
        return
    if suffix == ".jsonl":
        yield from _read_jsonl(path, source, text)
        return
    title = ""
    if suffix in (".html", ".htm"):
        title, text = html_to_text(text)
    if not text.strip():
        yield SourceError(f"{path}: empty document")
        return
    yield RawDocument(doc_id_for(source), source, path.name, text, meta.get("title") or title, meta)


def _read_jsonl(path: Path, source: str, text: str) -> Iterator[RawDocument | SourceError]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield SourceError(f"{where}: invalid JSON: {exc.msg}")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
            yield SourceError(f"{where}: a JSONL document needs a non-empty string field 'text'")
            continue
        meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
        key = str(record.get("id") or number)
        doc_source = f"{source}#{key}"
        yield RawDocument(
            doc_id_for(doc_source), doc_source, f"{path.name}#{key}", record["text"],
            str(record.get("title") or meta.get("title") or ""), meta,
        )


def discover(paths: list[Path]) -> tuple[list[Path], list[SourceError]]:
    """Files to read under the given files and folders (sorted), and errors for unusable paths."""
    files: list[Path] = []
    errors: list[SourceError] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
            )
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(path)
            else:
                errors.append(SourceError(f"{path}: unsupported file type (use {', '.join(SUPPORTED_SUFFIXES)})"))
        else:
            errors.append(SourceError(f"{path}: no such file or folder"))
    return files, errors
