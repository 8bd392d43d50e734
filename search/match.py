"""Match levels: does a passage address the query (strong), mention it in passing (weak), or neither?

Everything here is computed from what the index already holds, per (query, passage):
- which query words and alias names occur in the passage's matching form (t2s, NFKC, lower case), each
  weighted by its rarity in this index (BM25's idf over passages containing it as a substring);
- whether the query's phrases (the parts between its punctuation) occur whole;
- the dense similarity, relative to the query's own distribution of similarities over the index
  (z-score and gap to the query's best passage), so that a query that is close to everything does not
  look like a match everywhere;
- whether the rarest matched word is in the passage's heading, the passage kind and its length.

A logistic model over these features gives a probability; two thresholds cut it into strong / weak / none.
Its weights and thresholds live in `match_params.json` with the cross-validated measurement that produced
them (`benchmarks/atlas.py --calibrate` writes it), so they can be re-fitted without touching code.
"""

from __future__ import annotations

import json
import math
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.storage.base import CharOccurrences, codes_of
from core.textform import matching_form, tokenize_query

from .aliases import AliasTable, default_aliases, fold

PARAMS_PATH = Path(__file__).with_name("match_params.json")
LEVELS = ("strong", "weak")
MIN_MATCH = ("strong", "weak", "any")
FULL_VECTORS_MAX = 60_000  # indexes up to this many passages keep every vector in memory for the atlas
SAMPLE_SIZE = 1024  # larger ones estimate the query's similarity distribution from a fixed sample
SEPARATOR = "\x00"
CHAR_INDEX_MAX = 40_000_000  # characters: larger versions scan for each new term instead
OCCURRENCE_CACHE = 20_000  # terms whose occurrences are kept per index version
SEGMENT_SPLIT = re.compile(r"[\s，,、；;。：:！!？?（）()《》<>【】\[\]“”\"'‘’「」『』/|]+|以及|及其")
QUOTED = re.compile(r"\"([^\"]{2,})\"|「([^」]{2,})」|『([^』]{2,})』")
KIND_CODES = {"paragraph": 0, "measure": 1, "article": 2}

FEATURES = (
    "cov", "cov_eff", "top_hit", "maxw_rel", "n_terms", "seg_any", "seg_frac", "alias_any", "density",
    "head", "dense_z", "dense_gap", "dense_cos", "z_cov", "is_measure", "is_article", "log_len", "cov_dense",
    "name_missing",
)
NAME_MAX = 10  # a query of one phrase this short is a name (法律顾问): a passage without it whole is suspect
CLIP = 10.0  # standardised features are clipped to ±CLIP: a rare word in a small index must not outvote the rest


@dataclass
class MatchQuery:
    """What a typed query (or atlas measure) is matched on."""

    text: str  # as typed
    folded: str
    terms: list[str]  # query words (2+ characters), folded
    aliases: list[str]  # other names: explicit (m=a|b) and from the alias file
    segments: list[str]  # phrases between the query's punctuation (2+ characters)
    quoted: list[str]  # "…" phrases that must occur exactly
    vector: np.ndarray | None = None
    # per quoted phrase, the literal forms that satisfy it: the phrase and its alias-file names (双随机一公开 is
    # written 双随机、一公开) and the measure's own aliases, as an Elasticsearch phrase query matches its synonyms
    quoted_forms: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.quoted_forms) != len(self.quoted):  # built by hand: each phrase stands for itself
            self.quoted_forms = [[q] for q in self.quoted]

    @property
    def phrases(self) -> list[str]:
        """Quoted phrases, phrases and aliases: a passage that holds one has it marked whole (search/highlight.py)."""
        return list(dict.fromkeys(self.quoted + self.segments + self.aliases))

    @property
    def highlight_terms(self) -> list[str]:
        """Words to mark in a hit: whole phrases and aliases first, so a phrase stays one highlight."""
        return list(dict.fromkeys(self.quoted + self.segments + self.aliases + self.terms))


def analyze(query: str, extra_aliases: Sequence[str] = (), aliases: AliasTable | None = None,
            use_alias_file: bool = True) -> MatchQuery:
    """Terms, phrases, quoted phrases and aliases of a query."""
    quoted = [fold(next(g for g in m.groups() if g)) for m in QUOTED.finditer(query or "")]
    stripped = (query or "").strip()
    if len(stripped) > 2 and stripped[0] in "\"“" and stripped[-1] in "\"”":  # the whole query in quotes
        quoted.append(fold(stripped[1:-1]))
    quoted = [q for q in dict.fromkeys(quoted) if len(q) >= 2]
    folded = fold(query or "")
    segments = []
    for part in SEGMENT_SPLIT.split(matching_form(query or "").lower()):
        part = part.strip()
        if len(part) >= 2 and part not in segments:
            segments.append(part)
    terms = [t for t in dict.fromkeys(tokenize_query(query or "")) if len(t) >= 2]
    names = [fold(a) for a in extra_aliases if fold(a)]
    if use_alias_file:
        table = aliases or default_aliases()
        for source in [query] + list(extra_aliases):
            names += table.expand(source or "")
    forms = []
    for phrase in quoted:
        named = table.expand(phrase) if use_alias_file else []
        forms.append([f for f in dict.fromkeys([phrase] + named + [fold(a) for a in extra_aliases]) if f])
    names = [n for n in dict.fromkeys(names) if n and n not in segments and n != folded]
    return MatchQuery(text=query, folded=folded, terms=terms, aliases=names, segments=segments, quoted=quoted,
                      quoted_forms=forms)


# -- the index side ---------------------------------------------------------------------------------
class _OccurrenceCache:
    """sparse_occurrences over a table's own _find, the last OCCURRENCE_CACHE terms kept."""

    def _init_cache(self) -> None:
        self._occ: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def sparse_occurrences(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(positions containing `term`, how often), cached per term."""
        with self._lock:
            known = self._occ.get(term)
            if known is not None:
                self._occ.move_to_end(term)
                return known
        pos, counts = self._find(term)
        result = (pos.astype(np.int64), counts.astype(np.int32))
        with self._lock:
            self._occ[term] = result
            while len(self._occ) > OCCURRENCE_CACHE:
                self._occ.popitem(last=False)
        return result

    def _find(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class TextTable(_OccurrenceCache):
    """Matching forms, headings, kinds and lengths of some passages in their own order, with a character
    index, all in memory: for a segment written before segments had a character index on disk, a format-2
    version, or another backend (~900 bytes a passage at a million, issue 17)."""

    def __init__(self, texts: list[str], headings: list[str], kinds: list[str],
                 sections: list[str] | None = None) -> None:
        n = len(texts)
        self.size = n
        self.texts = texts
        self.headings = headings
        self.heading_names, self.heading_codes = codes_of(headings)
        # the top-level heading each passage sits under (a report's review, its plans, …), as a code into
        # section_names: the atlas takes a cell's second passage from another one
        self.section_names, self.sections = codes_of(sections or [""] * n)
        self.kind = np.array([KIND_CODES.get(k, 0) for k in kinds], dtype=np.int8)
        self.length = np.array([len(t) for t in texts], dtype=np.float32)
        self.joined = SEPARATOR.join(texts)
        starts = np.zeros(n, dtype=np.int64)
        if n:
            starts[1:] = np.cumsum([len(t) + 1 for t in texts[:-1]])
        self.starts = starts
        self._init_cache()
        self._char_index, self._char_pos = _char_postings(self.joined, starts, n)

    @classmethod
    def from_rows(cls, rows) -> "TextTable":
        """From (match_text, heading_path JSON, kind) rows."""
        return cls(*_columns(rows))

    def _find(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Only the passages that hold the term's two rarest characters are read (a character index of the
        segment), so a term costs in proportion to how rare it is; above CHAR_INDEX_MAX, a scan of all."""
        cands = self._candidates(term)
        if cands is None:
            hits = [m.start() for m in re.finditer(re.escape(term), self.joined)] if term else []
            return np.unique(np.searchsorted(self.starts, np.array(hits, dtype=np.int64), side="right") - 1,
                             return_counts=True) if hits else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        texts = self.texts
        found = [(p, texts[p].count(term)) for p in cands.tolist()]
        found = [(p, c) for p, c in found if c]
        return np.array([p for p, _ in found], dtype=np.int64), np.array([c for _, c in found], dtype=np.int64)

    def _candidates(self, term: str) -> np.ndarray | None:
        """Positions that may hold `term`: those holding its two rarest characters (None: read them all)."""
        if self._char_index is None or not term:
            return None
        spans = []
        for ch in set(term):
            span = self._char_index.get(ord(ch))
            if span is None:
                return np.zeros(0, np.int64)
            spans.append(span)
        spans.sort(key=lambda se: se[1])
        first = self._char_pos[spans[0][0]:spans[0][0] + spans[0][1]]
        if len(spans) > 1:
            second = self._char_pos[spans[1][0]:spans[1][0] + spans[1][1]]
            first = np.intersect1d(first, second, assume_unique=True)
        return first


class CharTable(_OccurrenceCache):
    """The same as a TextTable for one segment, answered by its memory-mapped character index: no text
    is held, and headings, sections and kinds are codes into their distinct values (~13 bytes a passage)."""

    def __init__(self, chars: CharOccurrences, rows: Callable[[], list[tuple]]) -> None:
        self.chars = chars
        self.size = chars.size
        self._rows = rows  # (match_text, heading_path JSON, kind) of every passage: what bigrams can't answer
        codes = np.asarray(chars.heading)
        self.heading_names, heading = codes_of([" ".join(fold(h) for h in path) for path in chars.headings])
        self.heading_codes = heading[codes] if len(heading) else np.zeros(0, np.int32)
        self.section_names, section = codes_of([fold(path[0]) if path else "" for path in chars.headings])
        self.sections = section[codes] if len(section) else np.zeros(0, np.int32)
        kind = np.array([KIND_CODES.get(k, 0) for k in chars.kinds] or [0], dtype=np.int8)
        self.kind = kind[np.asarray(chars.kind)]
        self.length = chars.lengths().astype(np.float32)
        self._init_cache()

    def _find(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """A phrase query over the term's character bigrams; a term of one character reads every text."""
        if not term:
            return np.zeros(0, np.int64), np.zeros(0, np.int32)
        found = self.chars.occurrences(term)
        if found is not None:
            return found
        counts = np.array([r[0].lower().count(term) for r in self._rows()], dtype=np.int64)
        pos = np.flatnonzero(counts)
        return pos, counts[pos]


class Headings(Sequence):
    """Each position's heading (its path's folded headings joined), as a code into the distinct ones."""

    def __init__(self, codes: np.ndarray, names: list[str]) -> None:
        self.codes, self.names = codes, names

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, pos):
        if isinstance(pos, slice):
            return [self.names[c] for c in self.codes[pos].tolist()]
        return self.names[self.codes[pos]]


_segment_tables: "weakref.WeakKeyDictionary[object, _OccurrenceCache]" = weakref.WeakKeyDictionary()
_segment_tables_lock = threading.Lock()  # not _tables_lock: a PassageTable is built while that one is held


def _text_parts(state, n: int, in_memory: bool = False) -> list[tuple[TextTable | CharTable, np.ndarray | None]]:
    """The text tables of a version and each one's local → global positions (None: the same; -1: deleted).

    The embedded reader has segments: a table per segment, kept while the segment is open, so a version
    that adds one small segment reads only that segment's passages. A segment with a character index on
    disk is answered by it; one without has its texts read into memory (as every one is with `in_memory`,
    which benchmarks and tests compare with and which is not cached)."""
    parts = getattr(state, "passage_parts", None)
    if parts is None:
        return [(TextTable(*_read_passages(state, n)), None)]
    out = []
    for segment, l2g, rows in parts(["match_text", "heading_path", "kind"]):
        chars = getattr(segment, "chars", None)
        if in_memory:
            table = TextTable.from_rows(rows())
        else:
            with _segment_tables_lock:
                table = _segment_tables.get(segment)
            if table is None:
                table = CharTable(chars, rows) if chars is not None else TextTable.from_rows(rows())
                with _segment_tables_lock:
                    table = _segment_tables.setdefault(segment, table)
        out.append((table, None if len(out) == 0 and len(l2g) == n and (len(l2g) == 0 or (l2g == np.arange(n)).all())
                    else l2g))
    return out


class PassageTable:
    """Every passage's heading, kind and length of one index version, and where each term occurs: from
    its segments' character indexes (or texts held in memory where a segment has none)."""

    def __init__(self, state, in_memory: bool = False) -> None:
        self.state = state
        n = len(state.doc_of_pos)
        self.size = n
        self.parts = _text_parts(state, n, in_memory)
        if len(self.parts) == 1 and self.parts[0][1] is None:
            one = self.parts[0][0]
            self.kind, self.length, self.sections = one.kind, one.length, one.sections
            self.headings = Headings(one.heading_codes, one.heading_names)
        else:
            self.kind, self.length = np.zeros(n, np.int8), np.zeros(n, np.float32)
            self.sections, heading_codes = np.zeros(n, np.int32), np.zeros(n, np.int32)
            names: dict[str, int] = {}  # one code per top-level heading across the segments
            headings: dict[str, int] = {}  # and per heading
            for table, l2g in self.parts:
                local = np.flatnonzero(l2g >= 0)
                where = l2g[local]
                self.kind[where], self.length[where] = table.kind[local], table.length[local]
                code = np.array([names.setdefault(h, len(names)) for h in table.section_names] or [0], np.int32)
                self.sections[where] = code[table.sections[local]]
                code = np.array([headings.setdefault(h, len(headings)) for h in table.heading_names] or [0], np.int32)
                heading_codes[where] = code[table.heading_codes[local]]
            self.headings = Headings(heading_codes, list(headings))
        self.doc_ids = state.doc_of_pos
        self._occ: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()
        self.vectors = _read_vectors(state, n)
        if self.vectors is None and n:
            rng = np.random.default_rng(0)
            self.sample = np.sort(rng.choice(n, size=min(n, SAMPLE_SIZE), replace=False))
            self.sample_vectors = np.stack([state.vector_at(int(p)) for p in self.sample]).astype(np.float32)
        else:
            self.sample = None
            self.sample_vectors = None

    def occurrences(self, term: str) -> np.ndarray:
        """How often `term` occurs in each passage (all positions)."""
        idx, counts = self.sparse_occurrences(term)
        dense = np.zeros(self.size, dtype=np.int32)
        dense[idx] = counts
        return dense

    def sparse_occurrences(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(positions containing `term`, how often), in position order; deleted passages left out."""
        if len(self.parts) == 1 and self.parts[0][1] is None:
            return self.parts[0][0].sparse_occurrences(term)
        with self._lock:
            known = self._occ.get(term)
            if known is not None:
                self._occ.move_to_end(term)
                return known
        positions, counts = [], []
        for table, l2g in self.parts:
            local, c = table.sparse_occurrences(term)
            g = l2g[local]
            live = g >= 0
            positions.append(g[live].astype(np.int64))
            counts.append(c[live])
        pos, cnt = np.concatenate(positions), np.concatenate(counts)
        order = np.argsort(pos, kind="stable")
        result = (pos[order], cnt[order].astype(np.int32))
        with self._lock:
            self._occ[term] = result
            while len(self._occ) > OCCURRENCE_CACHE:
                self._occ.popitem(last=False)
        return result

    def df(self, term: str) -> int:
        """In how many passages `term` occurs as a substring."""
        return len(self.sparse_occurrences(term)[0])

    def idf(self, term: str) -> float:
        df = self.df(term)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def cosines(self, vector: np.ndarray, positions: np.ndarray, known: dict[int, float] | None = None
                ) -> tuple[np.ndarray, float, float, float]:
        """(cosine of each position, the query's mean, spread and best cosine over the index).

        `known`: cosines the dense retriever already gave for some positions (its scores are the same inner
        products of the same stored vectors); only the other positions' vectors are read.
        """
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if self.vectors is not None:
            every = self.vectors @ vector
            return every[positions], float(every.mean()), float(every.std() + 1e-6), float(every.max())
        sample = self.sample_vectors @ vector
        known = known or {}
        mine = np.array([known.get(int(p), np.nan) for p in positions], dtype=np.float32)
        missing = np.flatnonzero(np.isnan(mine))
        if len(missing):  # at 1M a vector read is a pread each: the dense candidates' are not read twice
            mine[missing] = self.state.vectors_at([int(positions[i]) for i in missing]) @ vector
        best = float(max(sample.max(), mine.max() if len(mine) else -1.0))
        return mine, float(sample.mean()), float(sample.std() + 1e-6), best


def _char_postings(joined: str, starts: np.ndarray, n: int):
    """{character code: (offset, count)} into one array of the sorted positions holding each character."""
    if not n or len(joined) > CHAR_INDEX_MAX:
        return None, None
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    owner = np.searchsorted(starts, np.arange(len(codes)), side="right") - 1
    keys = np.unique(codes * (n + 1) + owner)
    code_of, pos_of = keys // (n + 1), keys % (n + 1)
    uniq, first, counts = np.unique(code_of, return_index=True, return_counts=True)
    return dict(zip(uniq.tolist(), zip(first.tolist(), counts.tolist()))), pos_of


def _columns(rows) -> tuple[list[str], list[str], list[str], list[str]]:
    """(matching texts, headings joined, kinds, top-level headings) of (match_text, heading_path JSON, kind) rows."""
    texts = [r[0].lower() for r in rows]
    paths = [json.loads(r[1]) for r in rows]
    headings = [" ".join(fold(h) for h in path) for path in paths]
    return texts, headings, [r[2] for r in rows], [fold(path[0]) if path else "" for path in paths]


def _read_passages(state, n: int) -> tuple[list[str], list[str], list[str], list[str]]:
    """(matching texts, headings joined, kinds, top-level headings) of every position."""
    if hasattr(state, "passage_rows"):  # the embedded reader: one scan of each segment
        return _columns(state.passage_rows(["match_text", "heading_path", "kind"]))
    texts, headings, kinds, sections = [], [], [], []
    for start in range(0, n, 500):
        for record in state.passages_at(list(range(start, min(n, start + 500)))):
            texts.append(record.match_text.lower())
            headings.append(" ".join(fold(h) for h in record.heading_path))
            kinds.append(record.kind)
            sections.append(fold(record.heading_path[0]) if record.heading_path else "")
    return texts, headings, kinds, sections


def _read_vectors(state, n: int) -> np.ndarray | None:
    dense = getattr(state, "dense", None)
    if not hasattr(dense, "vectors") or n == 0 or n > FULL_VECTORS_MAX:
        return None
    try:
        return np.ascontiguousarray(dense.vectors(), dtype=np.float32)
    except Exception:  # noqa: BLE001 - an index without a direct map: fall back to the sample
        return None


_tables: dict[int, PassageTable] = {}
_tables_lock = threading.Lock()


def passage_table(state) -> PassageTable:
    """The table of a reader (built once per index version)."""
    table = getattr(state, "_fazhi_passage_table", None)
    if table is not None:
        return table
    with _tables_lock:
        table = getattr(state, "_fazhi_passage_table", None)
        if table is None:
            table = PassageTable(state)
            state._fazhi_passage_table = table
    return table


# -- features and levels ----------------------------------------------------------------------------
def features(table: PassageTable, mq: MatchQuery, positions: np.ndarray | None = None,
             dense: tuple[np.ndarray, float, float, float] | None = None,
             known_cosines: dict[int, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(feature matrix over FEATURES, positions) for the given positions (None: every passage).

    `dense`: the query's cosines at `positions` with its mean, spread and best over the index, when the
    caller computed them for several queries at once. `known_cosines`: the dense retriever's scores of some
    positions (see PassageTable.cosines).
    """
    positions = np.arange(table.size) if positions is None else np.asarray(positions, dtype=np.int64)
    n = len(positions)
    whole = n > table.size // 20

    def counts_of(term: str) -> np.ndarray:
        if whole:
            return table.occurrences(term)[positions]
        idx, counts = table.sparse_occurrences(term)  # idx ascending: look the positions up in it
        if not len(idx):
            return np.zeros(n, dtype=np.int32)
        at = np.minimum(np.searchsorted(idx, positions), len(idx) - 1)
        return np.where(idx[at] == positions, counts[at], 0).astype(np.int32)

    weights = {t: table.idf(t) for t in mq.terms}
    total = sum(weights.values()) or 1.0
    wmax = max(weights.values()) if weights else 1.0
    top_term = max(weights, key=weights.get) if weights else None
    cov = np.zeros(n, np.float32)
    maxw = np.zeros(n, np.float32)
    n_terms = np.zeros(n, np.float32)
    density = np.zeros(n, np.float32)
    top_hit = np.zeros(n, np.float32)
    head = np.zeros(n, np.float32)
    median_w = float(np.median(list(weights.values()))) if weights else 0.0
    present_any = np.zeros(n, bool)
    for term, w in weights.items():
        c = counts_of(term)
        hit = c > 0
        present_any |= hit
        cov += w * hit
        maxw = np.maximum(maxw, w * hit)
        n_terms += hit
        if w >= median_w:
            density += c
        if term == top_term:
            top_hit = hit.astype(np.float32)
        if w >= 0.5 * wmax and hit.any():
            idx = np.flatnonzero(hit)
            head[idx] = np.maximum(head[idx], [float(term in table.headings[positions[i]]) for i in idx])
    cov /= total
    alias_any = np.zeros(n, np.float32)
    for name in mq.aliases:
        c = counts_of(name)
        alias_any = np.maximum(alias_any, (c > 0).astype(np.float32))
        density += c
        maxw = np.maximum(maxw, (c > 0) * min(table.idf(name), wmax))
    long_segments = [s for s in mq.segments if len(s) >= 3] or mq.segments
    seg_hits = np.zeros(n, np.float32)
    for seg in long_segments:
        seg_hits += counts_of(seg) > 0
    seg_frac = seg_hits / max(1, len(long_segments))
    seg_any = (seg_hits > 0).astype(np.float32)
    cov_eff = np.maximum(np.maximum(cov, 0.7 * alias_any), seg_frac)
    is_name = len(mq.segments) == 1 and len(mq.segments[0]) <= NAME_MAX
    name_missing = ((seg_any == 0) & (alias_any == 0)).astype(np.float32) * float(is_name)
    length = table.length[positions]
    density = np.minimum(density / np.maximum(length, 50.0) * 100.0, 5.0)
    if dense is not None:
        cos, mu, sd, best = dense
    elif mq.vector is not None:
        cos, mu, sd, best = table.cosines(mq.vector, positions, known_cosines)
    else:
        cos, mu, sd, best = np.zeros(n, np.float32), 0.0, 1.0, 0.0
    z = (cos - mu) / sd
    kind = table.kind[positions]
    X = np.stack([
        cov, cov_eff, top_hit, maxw / max(wmax, 1e-6), np.minimum(n_terms, 6) / 6.0, seg_any, seg_frac, alias_any,
        density, head, z, cos - best, cos, z * cov_eff, (kind == 1).astype(np.float32),
        (kind == 2).astype(np.float32), np.log1p(length) / math.log(1000.0),
        cov_eff / (1.0 + np.exp(-2.0 * (z - 0.5))),  # words present *and* close in meaning
        name_missing,
    ], axis=1).astype(np.float32)
    if mq.quoted:  # a quoted phrase is matched exactly: a passage without it (or a name of it) matches nothing
        required = np.ones(n, bool)
        for forms in mq.quoted_forms:
            named = np.zeros(n, bool)
            for form in forms:
                named |= counts_of(form) > 0
            required &= named
        X[~required] = np.nan
    return X, positions


@dataclass
class MatchModel:
    """Logistic weights over standardised FEATURES and the two cuts of its probability."""

    weights: list[float]
    bias: float
    mean: list[float]
    std: list[float]
    t_strong: float
    t_weak: float
    features: tuple[str, ...] = FEATURES
    measured: dict = field(default_factory=dict)

    def logit(self, X: np.ndarray) -> np.ndarray:
        """The model's log-odds (unsaturated, so it still orders passages that are all but certain)."""
        if len(X) == 0:
            return np.zeros(0, np.float64)
        # a blanked row (NaN) stays NaN through the product: no separate pass over X to find them
        Z = np.clip((X - np.asarray(self.mean)) / np.asarray(self.std), -CLIP, CLIP)
        z = Z @ np.asarray(self.weights, dtype=np.float64) + self.bias
        z[np.isnan(z)] = -50.0
        return z

    def probability(self, X: np.ndarray) -> np.ndarray:
        """P(the passage addresses or mentions the query); 0 for rows blanked by a missing quoted phrase."""
        z = self.logit(X)
        p = 1.0 / (1.0 + np.exp(-z))
        p[z <= -50.0] = 0.0
        return p

    def level(self, p: float) -> str | None:
        if p >= self.t_strong:
            return "strong"
        if p >= self.t_weak:
            return "weak"
        return None

    def levels(self, p: np.ndarray) -> list[str | None]:
        return [self.level(float(v)) for v in p]

    def to_json(self) -> dict:
        return {"features": list(self.features), "weights": [round(float(w), 6) for w in self.weights],
                "bias": round(float(self.bias), 6), "mean": [round(float(v), 6) for v in self.mean],
                "std": [round(float(v), 6) for v in self.std], "t_strong": round(float(self.t_strong), 4),
                "t_weak": round(float(self.t_weak), 4), "measured": self.measured}

    @classmethod
    def from_json(cls, data: dict) -> "MatchModel":
        names = tuple(data["features"])
        if names != FEATURES:
            raise ValueError(f"match parameters are for features {names}, this code computes {FEATURES}")
        return cls(data["weights"], data["bias"], data["mean"], data["std"], data["t_strong"], data["t_weak"],
                   names, data.get("measured", {}))


_model: MatchModel | None = None


def default_model() -> MatchModel:
    """The shipped calibration (match_params.json)."""
    global _model
    if _model is None:
        _model = MatchModel.from_json(json.loads(PARAMS_PATH.read_text(encoding="utf-8")))
    return _model


def admits(level: str | None, min_match: str) -> bool:
    """Whether a hit of this level passes a min_match cut."""
    if min_match == "any":
        return True
    if min_match == "strong":
        return level == "strong"
    return level in LEVELS


def check_min_match(min_match: str) -> str:
    if min_match not in MIN_MATCH:
        raise ValueError(f"min_match must be one of {', '.join(MIN_MATCH)}")
    return min_match


def passage_levels(state, mq: MatchQuery, positions: Sequence[int], model: MatchModel | None = None,
                   known_cosines: dict[int, float] | None = None) -> dict[int, tuple[str | None, float]]:
    """{position: (level, probability)} for some passages of an index version (`known_cosines`: the dense
    retriever's scores, which need no vector read)."""
    model = model or default_model()
    if not len(positions):
        return {}
    X, pos = features(passage_table(state), mq, np.asarray(list(positions), dtype=np.int64),
                      known_cosines=known_cosines)
    p = model.probability(X)
    return {int(q): (model.level(float(v)), float(v)) for q, v in zip(pos, p)}


# -- did you mean ----------------------------------------------------------------------------------
def did_you_mean(state, query: str, min_df: int = 2) -> str | None:
    """A close corpus word for a query that matched nothing: one character replaced, added or dropped.

    Candidates are the BM25 vocabulary's words (or words of 2-8 characters of the passages); the most
    frequent wins. The query's own parts that do occur are kept (法律顾向 → 法律顾问).
    """
    folded = fold(query)
    if not 2 <= len(folded) <= 24:
        return None
    table = passage_table(state)
    neighbours = _vocabulary(state)
    # the whole query first, then its unknown windows, longest first (聘请法律顾向 → 聘请法律顾问)
    windows = [(0, len(folded))] + [
        (i, i + n) for n in range(min(len(folded) - 1, 8), 2, -1) for i in range(len(folded) - n + 1)
    ]
    for start, end in windows:
        word = folded[start:end]
        if len(word) < 3 or table.df(word) > 0:
            continue
        candidates = set()
        for key in _deletions(word) | {word}:
            candidates.update(neighbours.get(key, ()))
        best, best_df = None, 0
        for cand in sorted(candidates):
            if cand != word and _one_edit(word, cand):
                df = table.df(cand)
                if df >= min_df and df > best_df:
                    best, best_df = cand, df
        if best is not None:
            return folded[:start] + best + folded[end:]
    return None


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _vocabulary(state) -> dict[str, list[str]]:
    """Corpus words of 3+ characters by their one-deletion keys (symmetric delete: edits in O(1) look-ups)."""
    cached = getattr(state, "_fazhi_vocab", None)
    if cached is not None:
        return cached
    lexical = getattr(state, "lexical", None)
    if hasattr(lexical, "vocabulary"):  # the embedded reader's tokens
        vocab = [w for w in lexical.vocabulary() if len(w) >= 3 and not w.isascii()]
    else:
        words = set()
        for text in _read_passages(state, len(state.doc_of_pos))[0]:
            words.update(re.findall(r"[\u4e00-\u9fff]{3,8}", text))
        vocab = sorted(words)
    neighbours: dict[str, list[str]] = {}
    for word in vocab:  # two-character words are too easily one edit from anything
        for key in _deletions(word) | {word}:
            neighbours.setdefault(key, []).append(word)
    state._fazhi_vocab = neighbours
    return neighbours


def _one_edit(a: str, b: str) -> bool:
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    if len(a) > len(b):
        a, b = b, a
    for i in range(len(b)):
        if b[:i] + b[i + 1:] == a:
            return True
    return False
