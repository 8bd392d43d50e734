"""Reading report files (.txt .md .html .docx .pdf .jsonl): format and encoding → raw documents."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import zipfile
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
# Zip-based formats (.docx) are refused before parsing when their directory declares more XML than this
# (what the parser reads): a 3 M-character report (MAX_DOCUMENT_CHARS) with heavy formatting stays below it.
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024
# ... or more than this in all (python-docx holds every part in memory; photos are most of a big report).
MAX_UNZIPPED_TOTAL = 512 * 1024 * 1024
# ... or one part with a compression ratio above this once it passes ZIP_RATIO_FLOOR. Office XML compresses
# 5-30x and photos ~1x; a 112 KB file unpacking to 22 MB (200x) is a zip bomb, not a report. Small parts may
# compress better without harm, so the ratio counts only above the floor.
MAX_ZIP_RATIO = 100
ZIP_RATIO_FLOOR = 4 * 1024 * 1024
MAX_ZIP_MEMBERS = 10_000  # a Word file has a few dozen parts, a few hundred with many images
# Files larger than this are refused before they are read into memory. Plain text needs at most 4 bytes a
# character in any encoding read here, so a larger .txt/.md can't be within MAX_DOCUMENT_CHARS; the others
# carry markup, images or many documents (.jsonl) and get a generous bound.
MAX_FILE_BYTES = {".txt": 4 * MAX_DOCUMENT_CHARS + 4, ".md": 4 * MAX_DOCUMENT_CHARS + 4,
                  ".html": 128 * 1024 * 1024, ".htm": 128 * 1024 * 1024, ".pdf": 512 * 1024 * 1024,
                  ".docx": 512 * 1024 * 1024, ".jsonl": 1024 * 1024 * 1024}
# The metadata fields a sidecar or a JSONL line's "meta" may set (aliases as DocumentMeta.merged knows them).
META_FIELDS = ("title", "issuing_body", "body", "region", "year", "published", "doc_type", "type")


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
    key: str = ""  # where it sits relative to the folder it was indexed from ("sub/a.txt", "x.jsonl#7")
    warnings: list[str] = field(default_factory=list)  # what was repaired while reading it


def doc_id_for(key: str) -> str:
    """Id of a new document: a hash of its key, the path relative to the folder given to the indexer.

    Indexes before this scheme hashed the absolute path; the pipeline keeps every existing id, so only
    documents new to an index get ids of this form.
    """
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def display_path(path: Path | str) -> str:
    """A path as text that can always be printed and stored: a file name that is not valid UTF-8 (GBK
    names from zip archives) is shown decoded as GB18030 where that works, else with \\xNN escapes."""
    raw = os.fsencode(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    parts = []
    for part in raw.split(b"/"):
        try:
            parts.append(part.decode("utf-8"))
        except UnicodeDecodeError:
            try:
                parts.append(part.decode("gb18030"))
            except UnicodeDecodeError:
                parts.append(part.decode("utf-8", "backslashreplace"))
    return "/".join(parts)


def shown_path(shown: str) -> Path | None:
    """The existing file a display_path() text stands for (each part as written, or as GB18030 or \\xNN
    bytes), or None."""
    current = b""
    for number, part in enumerate(shown.split("/")):
        utf8 = part.encode("utf-8", "surrogateescape")
        variants = [utf8]
        if not part.isascii():
            try:
                variants.append(part.encode("gb18030"))
            except UnicodeEncodeError:
                pass
        variants.append(re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), utf8))
        prefix = current + b"/" if number else b""
        for variant in variants:
            if not part or os.path.lexists(prefix + variant):
                current = prefix + variant
                break
        else:
            return None
    return Path(os.fsdecode(current or b"/"))


def source_for(path: Path) -> str:
    """The locator stored with a document: the file's resolved absolute path, as printable text."""
    return display_path(path.resolve())


def split_source(source: str) -> tuple[str, str]:
    """(file, JSONL key) of a stored source; only a .jsonl file's lines carry a '#key' (a.txt#2 is a file)."""
    for match in re.finditer("#", source):
        if source[: match.start()].lower().endswith(".jsonl"):
            return source[: match.start()], source[match.end():]
    return source, ""


def source_exists(source: str, whole: bool = False) -> bool:
    """True when the file a stored source names is still there (the source itself, a file whose name only
    looks like 'x.jsonl#key', counts too; with `whole`, only that)."""
    if shown_path(source) is not None:
        return True
    path, key = split_source(source)
    return not whole and bool(key) and shown_path(path) is not None


def without_surrogates(text: str) -> tuple[str, bool]:
    """The text with lone surrogates (which no UTF-8 file or database can hold) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
        return text, False
    except UnicodeEncodeError:
        return re.sub(r"[\ud800-\udfff]", "\ufffd", text), True


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


def check_zip_budget(data: bytes, path: Path) -> None:
    """Refuse a zip-based file (docx) whose directory declares too much content, before anything parses it.

    zipfile never yields more than a member's declared size (a member that inflates past it fails its
    CRC check), so the declared sizes bound what a parser can be made to read.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise SourceError(f"{path}: not a readable .docx/zip file ({type(exc).__name__}: {exc})") from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise SourceError(f"{path}: zip archive has {len(members):,} parts (limit {MAX_ZIP_MEMBERS:,}); refused before parsing")
    xml = sum(m.file_size for m in members if m.filename.lower().endswith((".xml", ".rels")))
    if xml > MAX_UNZIPPED_BYTES:
        raise SourceError(f"{path}: its XML unpacks to {xml:,} bytes (limit {MAX_UNZIPPED_BYTES:,}); refused before parsing")
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_UNZIPPED_TOTAL:
        raise SourceError(f"{path}: unpacks to {unpacked:,} bytes (limit {MAX_UNZIPPED_TOTAL:,}); refused before parsing")
    for member in members:
        ratio = member.file_size / max(1, member.compress_size)
        if member.file_size > ZIP_RATIO_FLOOR and ratio > MAX_ZIP_RATIO:
            raise SourceError(
                f"{path}: {len(data):,} bytes unpack to {unpacked:,} ({member.filename} {ratio:.0f}x, limit "
                f"{MAX_ZIP_RATIO}x): a zip bomb, not a report; refused before parsing"
            )


def docx_to_text(data: bytes, path: Path) -> tuple[str, str]:
    """(title, text) of a Word document; Heading styles become Markdown heading lines."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    from .structure import heading_level

    check_zip_budget(data, path)
    try:
        document = docx.Document(io.BytesIO(data))
        # paragraph.style scans every style of the file per paragraph (minutes for a long report): look up once
        styles = {s.style_id: s.name or "" for s in document.styles if s.type == WD_STYLE_TYPE.PARAGRAPH}
        default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
        default_name = (default.name if default is not None else "") or ""
    except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds for broken files
        raise SourceError(f"{path}: not a readable .docx file ({type(exc).__name__})") from exc
    lines, title = [], document.core_properties.title or ""
    size = 0
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        size += len(text) + 1
        if size > MAX_DOCUMENT_CHARS:  # stop reading now rather than after the last paragraph
            raise SourceError(f"{path}: document too large (over {MAX_DOCUMENT_CHARS:,} characters); split it first")
        style_id = paragraph._p.style  # noqa: SLF001 - the w:pStyle id; None means the default style
        style = styles.get(style_id, default_name) if style_id else default_name
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
    shown_sidecar = display_path(sidecar)
    try:
        if not sidecar.is_file():
            return {}
    except OSError:  # e.g. a 250-byte file name whose sidecar name would pass the 255-byte limit: none can exist
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise SourceError(f"{shown_sidecar}: invalid metadata sidecar: {exc}") from None
    if not isinstance(data, dict):
        raise SourceError(f"{shown_sidecar}: metadata sidecar must be a JSON object")
    return data


def clean_meta(meta: dict, where: str, warnings: list[str]) -> dict:
    """Metadata overrides made safe: a number becomes its text (with a warning); a list, object or boolean
    for a known field is refused (SourceError), so a wrong sidecar is never indexed silently."""
    out = {}
    for key, value in meta.items():
        key, _ = without_surrogates(str(key))
        if isinstance(value, str):
            value, repaired = without_surrogates(value)
            if repaired:
                warnings.append(f"{where}: metadata {key!r} had invalid characters (lone surrogates), replaced with U+FFFD")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if key in META_FIELDS:
                warnings.append(f"{where}: metadata {key!r} is a number ({value!r}), read as the text {str(value)!r}")
            value = str(value)
        elif value is None:
            continue
        elif key in META_FIELDS:
            raise SourceError(f"{where}: metadata field {key!r} must be text, not {type(value).__name__} ({json.dumps(value, ensure_ascii=False)[:60]})")
        else:
            continue  # unknown fields are not used; a nested value there harms nothing
        out[key] = value
    return out


def read_file(path: Path, key: str | None = None) -> Iterator[RawDocument | SourceError]:
    """The documents in one file; a bad JSONL line yields a SourceError and reading goes on.

    `key` is the file's path relative to the folder being indexed (default: its name); new documents
    get their ids from it, so an id does not depend on where the folder sits.
    """
    suffix = path.suffix.lower()
    shown = display_path(path)
    label = Path(shown)  # messages name the file printably, whatever bytes its name has
    key = display_path(path.name) if key is None else key
    try:
        source = source_for(path)
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            yield SourceError(f"{shown}: not a regular file ({file_kind(info.st_mode)}); skipped")
            return
        limit = MAX_FILE_BYTES.get(suffix)
        if limit is not None and info.st_size > limit:
            yield SourceError(f"{shown}: file too large ({info.st_size:,} bytes, limit {limit:,} for {suffix}); "
                              "refused before reading; split it first")
            return
        data = path.read_bytes()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop
        yield SourceError(f"{shown}: cannot read: {getattr(exc, 'strerror', None) or exc}")
        return
    title = ""
    warnings: list[str] = []
    try:
        meta = clean_meta(read_sidecar(path), shown, warnings)
        if suffix == ".docx":
            title, text = docx_to_text(data, label)
        elif suffix == ".pdf":
            text = pdf_to_text(data, label)
        else:
            text = decode_bytes(data, label)
    except SourceError as exc:
        yield exc
        return
    if suffix == ".jsonl":
        yield from _read_jsonl(label, source, key, text, warnings)
        return
    if suffix in (".html", ".htm"):
        title, text = html_to_text(text)
    problem = check_size(text)
    if problem:
        yield SourceError(f"{shown}: {problem}")
        return
    text, repaired = without_surrogates(text)
    if repaired:
        warnings.append(f"{shown}: text had invalid characters (lone surrogates), replaced with U+FFFD")
    title, _ = without_surrogates(str(meta.get("title") or title or ""))
    yield RawDocument(doc_id_for(key), source, display_path(path.name), text, title, meta, key=key, warnings=warnings)


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, word in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return word
    return "not a regular file"


def check_size(text: str) -> str:
    """Why a document's text can't be indexed ('' when it can)."""
    if not text.strip():
        return "empty document"
    if len(text) > MAX_DOCUMENT_CHARS:
        return f"document too large ({len(text):,} characters, limit {MAX_DOCUMENT_CHARS:,}); split it first"
    return ""


def _read_jsonl(path: Path, source: str, file_key: str, text: str, file_warnings: list[str]) -> Iterator[RawDocument | SourceError]:
    seen: dict[str, int] = {}  # key → the line that declared it
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield SourceError(f"{where}: invalid JSON: {getattr(exc, 'msg', None) or 'nested too deep'}")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
            yield SourceError(f"{where}: a JSONL document needs a non-empty string field 'text'")
            continue
        problem = check_size(record["text"])
        if problem:
            yield SourceError(f"{where}: {problem}")
            continue
        warnings = list(file_warnings)
        try:
            meta = clean_meta(record.get("meta") if isinstance(record.get("meta"), dict) else {}, where, warnings)
        except SourceError as exc:
            yield exc
            continue
        record_id, _ = without_surrogates(str(record.get("id") or ""))
        key = record_id or str(number)
        if key in seen:
            yield SourceError(f"{where}: duplicate id {key!r} (first on line {seen[key]}); this line is skipped")
            continue
        seen[key] = number
        body, repaired_text = without_surrogates(record["text"])
        title, repaired_title = without_surrogates(str(record.get("title") or meta.get("title") or ""))
        if repaired_text or repaired_title:
            warnings.append(f"{where}: {'text' if repaired_text else 'title'} had invalid characters (lone surrogates), replaced with U+FFFD")
        doc_key = f"{file_key}#{key}"
        yield RawDocument(
            doc_id_for(doc_key), f"{source}#{key}", f"{path.name}#{key}", body, title, meta, record_id,
            key=doc_key, warnings=warnings,
        )


def discover(paths: list[Path]) -> tuple[list[Path], list[SourceError]]:
    """Files to read under the given files and folders (sorted), and errors for unusable paths."""
    found, errors = discover_keyed(paths)
    return [path for path, _key in found], errors


def discover_keyed(paths: list[Path]) -> tuple[list[tuple[Path, str]], list[SourceError]]:
    """(file, key) to read under the given files and folders, and errors for unusable paths.

    The key is the path relative to the folder given (a file given itself: its name). Symbolic links are
    followed only to files inside that folder; links out of it, to folders, dangling links, loops and
    FIFOs are reported rather than read.
    """
    files: list[tuple[Path, str]] = []
    errors: list[SourceError] = []
    for path in paths:
        path = Path(path)
        shown = display_path(path)
        try:
            info = path.stat()
        except FileNotFoundError:
            what = "dangling symbolic link" if path.is_symlink() else "no such file or folder"
            errors.append(SourceError(f"{shown}: {what}"))
            continue
        except (OSError, RuntimeError) as exc:
            errors.append(SourceError(f"{shown}: cannot open ({getattr(exc, 'strerror', None) or exc}; a symbolic link loop?)"))
            continue
        if stat.S_ISDIR(info.st_mode):
            _walk(path, files, errors)
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            errors.append(SourceError(f"{shown}: unsupported file type (use {', '.join(SUPPORTED_SUFFIXES)})"))
        elif not stat.S_ISREG(info.st_mode):
            errors.append(SourceError(f"{shown}: not a regular file ({file_kind(info.st_mode)}); skipped"))
        else:
            files.append((path, display_path(path.name)))
    return files, errors


def _walk(root: Path, files: list[tuple[Path, str]], errors: list[SourceError]) -> None:
    """Add the readable files under `root` (sorted), reporting links and special files it does not follow."""
    real_root = root.resolve()
    found: list[tuple[Path, str]] = []
    folders = [(root, "")]
    while folders:
        folder, prefix = folders.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            errors.append(SourceError(f"{display_path(folder)}: cannot read folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            path, key = Path(entry.path), prefix + display_path(entry.name)
            shown = display_path(path)
            wanted = entry.name.lower().endswith(SUPPORTED_SUFFIXES) and not entry.name.startswith(".")
            try:
                if entry.is_symlink():
                    try:
                        target = path.resolve(strict=True)
                    except FileNotFoundError:
                        if wanted:
                            errors.append(SourceError(f"{shown}: dangling symbolic link; skipped"))
                        continue
                    except (OSError, RuntimeError):
                        errors.append(SourceError(f"{shown}: symbolic link loop; skipped"))
                        continue
                    if target.is_dir():
                        inside = target == real_root or target.is_relative_to(real_root)
                        errors.append(SourceError(
                            f"{shown}: symbolic link to a folder "
                            + ("inside the corpus (its files are read where they are)" if inside
                               else f"outside the corpus ({display_path(target)}); not followed")))
                        continue
                    if not wanted:
                        continue
                    if not target.is_relative_to(real_root):
                        errors.append(SourceError(f"{shown}: symbolic link to a file outside the corpus ({display_path(target)}); not followed"))
                        continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append((path, key + "/"))
                    continue
                if not wanted:
                    continue
                mode = entry.stat().st_mode
            except OSError as exc:
                errors.append(SourceError(f"{shown}: cannot open: {exc.strerror or exc}"))
                continue
            if not stat.S_ISREG(mode):
                errors.append(SourceError(f"{shown}: not a regular file ({file_kind(mode)}); skipped"))
                continue
            found.append((path, key))
    files.extend(sorted(found, key=lambda item: item[0]))
