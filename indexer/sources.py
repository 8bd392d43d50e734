"""Reading report files (.txt .md .html .docx .pdf .jsonl): format and encoding → raw documents."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl", ".docx", ".pdf")
# Larger documents are refused (a 50 MB single line is a broken export, not a report).
MAX_DOCUMENT_CHARS = 3_000_000
SIDECAR_SUFFIX = ".meta.json"
# Candidates when a file is not UTF-8; gb18030 is a superset of GBK/GB2312.
LEGACY_ENCODINGS = ("gb18030", "big5")


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
    record_id: str = ""  # a JSONL line's own "id": it declares a document of its own


def doc_id_for(source: str) -> str:
    """Stable id of a document: a hash of where it came from."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]


def decode_bytes(data: bytes, path: Path) -> str:
    """Decode by BOM, else UTF-8, else whichever of GB18030, Big5 and charset-normalizer's guess reads most like Chinese."""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise SourceError(f"{path}: starts with a {encoding} byte-order mark but is not valid {encoding} ({exc.reason})") from None
    if b"\x00" in data[:4096]:
        text = _bomless_utf16(data)
        if text is None:
            raise SourceError(f"{path}: looks like a binary file (NUL bytes), not text")
        return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = []
    for encoding in LEGACY_ENCODINGS:
        try:
            candidates.append(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    guess = _detected(data)
    if guess is not None:
        candidates.append(guess)
    if not candidates:
        raise SourceError(f"{path}: cannot decode as UTF-8, GB18030, Big5 or any encoding charset-normalizer knows")
    # Big5 bytes often decode as GB18030 without error, into nonsense: keep the likelier Chinese.
    return max(candidates, key=chinese_likeness)


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 text without a byte-order mark, recognised by reading as text with Chinese in it."""
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ch < " " and ch not in "\n\r\t")
        cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
        common = sum(1 for ch in text if ch in COMMON_CHARS)  # binary noise is rare characters
        if controls == 0 and cjk >= 0.2 * len(text) and common >= 0.15 * cjk:
            return text
    return None


def _detected(data: bytes) -> str | None:
    """charset-normalizer's best decoding, or None."""
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is None:
        return None
    try:
        return data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        return None


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
    """(page title, main text) of an HTML page: trafilatura's extraction, else all visible text."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    visible = re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+\n", "\n", "".join(parser.parts)))
    try:
        import lxml.html
        import trafilatura

        tree = lxml.html.fromstring(html)
        for element in tree.xpath("//nav|//header|//footer|//aside|//script|//style|//noscript|//form"):
            element.drop_tree()
        main = trafilatura.extract(tree, include_tables=True, include_comments=False, deduplicate=False)
    except Exception:  # noqa: BLE001 - a page trafilatura can't handle falls back to all visible text
        main = None
    return parser.title, main if main and len(main) >= 0.3 * len(visible.strip()) else visible


def docx_to_text(data: bytes, path: Path) -> tuple[str, str]:
    """(title, text) of a Word document; Heading styles become Markdown heading lines."""
    import io

    import docx

    from .structure import heading_level

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds for broken files
        raise SourceError(f"{path}: not a readable .docx file ({type(exc).__name__})") from exc
    lines, title = [], document.core_properties.title or ""
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = re.search(r"(?:Heading|标题)\s*(\d)", style)
        if style in ("Title", "标题") and not title:
            title = text
        marked = level and heading_level(text) is None  # an enumerated heading (一、…) speaks for itself
        lines.append(f"{'#' * int(level.group(1))} {text}" if marked else text)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                lines.append("\t".join(dict.fromkeys(cells)))
    return title, "\n".join(lines)


def pdf_to_text(data: bytes, path: Path) -> str:
    """Text of a PDF's text layer, wrapped lines joined back into paragraphs."""
    import io

    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise SourceError(f"{path}: encrypted PDF; save an unencrypted copy first")
        pages = [page.extract_text() or "" for page in reader.pages]
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds for broken files
        raise SourceError(f"{path}: not a readable PDF ({type(exc).__name__}: {exc})") from exc
    text = "\n".join(page.strip("\n") for page in pages)  # a page break is not a paragraph break
    if len(re.sub(r"\s", "", text)) < 20:
        raise SourceError(f"{path}: PDF has no text layer (a scan?); run OCR on it first")
    return reflow_lines(text)


def reflow_lines(text: str) -> str:
    """Join lines a page width broke: a line near the page's width continues on the next one.

    A short line ends its paragraph (titles, headings, last lines); a line that starts a heading or
    an article always starts a new paragraph.
    """
    from .structure import ARTICLE, heading_level

    lines = [line.strip() for line in text.split("\n")]
    lengths = sorted(len(line) for line in lines if line)
    if not lengths:
        return ""
    width = lengths[int(0.9 * (len(lengths) - 1))]
    out: list[str] = []
    previous_full = False
    for line in lines:
        if not line:
            out.append("")
            previous_full = False
            continue
        starts_block = heading_level(line) is not None or ARTICLE.match(line)
        if out and out[-1] and previous_full and not starts_block:
            out[-1] += line
        else:
            out.append(line)
        previous_full = len(line) >= 0.8 * width
    return "\n".join(out)


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
    title = ""
    try:
        meta = read_sidecar(path)
        if suffix == ".docx":
            title, text = docx_to_text(data, path)
        elif suffix == ".pdf":
            text = pdf_to_text(data, path)
        else:
            text = decode_bytes(data, path)
    except SourceError as exc:
        yield exc
        return
    if suffix == ".jsonl":
        yield from _read_jsonl(path, source, text)
        return
    if suffix in (".html", ".htm"):
        title, text = html_to_text(text)
    problem = check_size(text)
    if problem:
        yield SourceError(f"{path}: {problem}")
        return
    yield RawDocument(doc_id_for(source), source, path.name, text, meta.get("title") or title, meta)


def check_size(text: str) -> str:
    """Why a document's text can't be indexed ('' when it can)."""
    if not text.strip():
        return "empty document"
    if len(text) > MAX_DOCUMENT_CHARS:
        return f"document too large ({len(text):,} characters, limit {MAX_DOCUMENT_CHARS:,}); split it first"
    return ""


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
        problem = check_size(record["text"])
        if problem:
            yield SourceError(f"{where}: {problem}")
            continue
        meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
        key = str(record.get("id") or number)
        doc_source = f"{source}#{key}"
        yield RawDocument(
            doc_id_for(doc_source), doc_source, f"{path.name}#{key}", record["text"],
            str(record.get("title") or meta.get("title") or ""), meta, str(record.get("id") or ""),
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
