"""The HTTP contract, declared once: request and response models of the JSON API and the pages.

pydantic validates every request; flask-openapi3 generates /api/openapi.json from the same models, so the
document states the real constraints (ranges, lengths, required fields). The pages parse their query
strings with the same filter model. `problem()` turns a pydantic error into one clear message that names
the parameter.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.filters import LIST_FIELDS, Filters
from search.atlas import MAX_MEASURES
from search.engine import COMPARE_BY, MAX_K, SORTS, Hit

# Request limits (the document states them, pydantic enforces them).
MAX_QUERY_CHARS = 500  # a query box; a longer text is a selection: use /api/similar
MAX_TEXT_CHARS = 5000  # a selected paragraph or a few
MAX_OFFSET = 1000  # paging: the ranked list is a few hundred passages at most
MAX_FILTER_VALUES = 20
MAX_FILTER_CHARS = 100
YEAR_MIN, YEAR_MAX = 1949, 2100
# At least one character that is not white space, spelled out: JavaScript's \s (the OpenAPI document's
# regex dialect), pydantic's Rust \s and Python's str.strip disagree on U+0085, U+001C–U+001F and U+FEFF, so
# "\S" let a query of U+0085 pass the schema and fail validation. This class means the same in all three.
NON_BLANK = (r"[^\t\n\v\f\r \u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
             r"\ufeff]")


def _no_surrogates(value: str) -> str:
    """Refuse lone surrogates (\\ud800): they can't be stored or encoded as UTF-8."""
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError("contains a lone surrogate (an invalid character such as \\ud800)")
    return value


Text = Annotated[str, AfterValidator(_no_surrogates)]
QueryText = Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS, pattern=NON_BLANK,
                                 description="the query, in either script"), AfterValidator(_no_surrogates)]
SourceText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS, pattern=NON_BLANK),
                       AfterValidator(_no_surrogates)]
Id = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_surrogates)]
FilterValue = Annotated[str, Field(max_length=MAX_FILTER_CHARS), AfterValidator(_no_surrogates)]
FilterList = Annotated[list[FilterValue], Field(max_length=MAX_FILTER_VALUES)]
Year = Annotated[int, Field(ge=YEAR_MIN, le=YEAR_MAX)]


class Strict(BaseModel):
    """Unknown fields are refused rather than ignored: a typo must not silently change an answer.

    Its JSON schema is generated once per class and arguments: flask-openapi3 asks a query model for it on
    every request (to find its list fields), and pydantic built it anew each time: 37% of a cached-query
    search's CPU (pyinstrument, 200 requests). Each caller gets its own copy, so none can change another's.
    """

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = (cls, args, tuple(sorted(kwargs.items(), key=lambda kv: kv[0])))
        cached = _SCHEMAS.get(key)
        if cached is None:
            cached = _SCHEMAS[key] = json.dumps(super().model_json_schema(*args, **kwargs))
        return json.loads(cached)


_SCHEMAS: dict[tuple, str] = {}  # (model, arguments) → its JSON schema, serialised


class FilterParams(Strict):
    """Metadata filters: list fields may repeat (alternatives); years are an inclusive range."""

    issuing_body: FilterList = Field(default_factory=list, description="issuing body; may repeat")
    region: FilterList = Field(default_factory=list, description="region; a province covers its cities")
    doc_type: FilterList = Field(default_factory=list, description="年度报告, 工作要点, 法规 or 其他")
    script: FilterList = Field(default_factory=list, description="simplified, traditional or mixed")
    # Absent means unbounded; an explicit null is refused (the document says integer): defaults aren't validated.
    year_from: Year = Field(None, description="first year covered")  # type: ignore[assignment]
    year_to: Year = Field(None, description="last year covered (before year_from: nothing matches)")  # type: ignore[assignment]

    def filters(self) -> Filters:
        """The engine's Filters (blank values dropped)."""
        values = {name: tuple(v.strip() for v in getattr(self, name) if v.strip()) for name in LIST_FIELDS}
        return Filters(**values, year_from=self.year_from, year_to=self.year_to)


MinMatch = Literal["strong", "weak", "any"]


class SearchQuery(FilterParams):
    """GET /api/search."""

    q: QueryText
    min_match: MinMatch = Field("weak", description="only passages that address the topic (strong), or at least "
                                                     "mention it (weak), or any ranked passage")
    k: int = Field(10, ge=1, le=MAX_K, description="passages to return")
    per_doc: int = Field(0, ge=0, le=MAX_K, description="at most this many passages a document (0: no limit)")
    explain: bool = Field(False, description="add each hit's ranks and fusion parameters")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="skip this many passages of the ranked list (paging)")
    sort: Literal[SORTS] = Field(  # type: ignore[valid-type]
        "relevance", description="relevance, or date (newest first), region or body")


assert SORTS == ("relevance", "date", "region", "body")


class CompareQuery(FilterParams):
    """GET /api/compare."""

    q: QueryText
    by: Literal["document", "issuing_body"] = Field("document", description="one row per document or body")
    format: Literal["json", "csv"] = Field("json", description="json, or csv for Excel")
    limit: int = Field(50, ge=1, le=MAX_K, description="rows to return")
    min_match: MinMatch = Field("weak", description="rows only for documents that address (strong) or mention "
                                                     "(weak) the topic; the others are listed in `absent` (未提及)")


assert set(COMPARE_BY) == {"document", "issuing_body"}


class AtlasQuery(FilterParams):
    """GET /api/atlas."""

    m: Annotated[list[QueryText], Field(min_length=1, max_length=MAX_MEASURES)] = Field(
        description="a measure as a user types it (a name or a short description); aliases after '|'; may repeat")
    by: Literal["document", "issuing_body", "region", "year"] = Field("document", description="the columns")
    evidence: int = Field(1, ge=1, le=2, description="passages in a strong cell's evidence text: 1 (its best "
                                                     "passage), or 2 (and a second strong one, preferably from "
                                                     "another part of the report)")


class BodyFilters(FilterParams):
    """Filters inside a JSON body: a list field also takes one string."""

    @model_validator(mode="before")
    @classmethod
    def _one_string_is_a_list(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: [v] if k in LIST_FIELDS and isinstance(v, str) else v for k, v in data.items()}
        return data


class SimilarBody(Strict):
    """POST /api/similar: a stored passage, or a selected text (passage_id wins when both are given)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "anyOf": [{"required": ["passage_id"]}, {"required": ["text"]}]})

    passage_id: Id = Field(None, description="a passage id from a search result")  # type: ignore[assignment]
    text: SourceText = Field(None, description="a selected paragraph")  # type: ignore[assignment]
    k: int = Field(10, ge=1, le=MAX_K)
    per_doc: int = Field(1, ge=0, le=MAX_K, description="at most this many passages a document (0: no limit)")
    filters: BodyFilters = Field(default_factory=BodyFilters)
    explain: bool = False
    min_match: MinMatch = Field("any", description="a cut by match level (a source passage is not a query: any)")
    doc_id: Id = Field(None, description="the document a text was selected from: it is left out, and the "  # type: ignore[assignment]
                                          "selection resolves to its own passage")
    include_same_doc: bool = Field(False, description="also return the source document's other passages")

    @model_validator(mode="after")
    def _needs_a_source(self) -> "SimilarBody":
        if self.passage_id is None and self.text is None:
            raise ValueError("give 'passage_id' or 'text'")
        return self


class PassagePath(Strict):
    """A passage id in the path."""

    passage_id: Id


class DocumentPath(Strict):
    """A document id in the path."""

    doc_id: Id


# -- responses -----------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    """What went wrong."""

    status: int
    message: str


class ErrorResponse(BaseModel):
    """Every error under /api/ (4xx, 503)."""

    error: ErrorBody


class GroupModel(BaseModel):
    """A document's hits, in the order of its best one."""

    doc_id: str
    title: str
    source: str
    issuing_body: str
    year: str
    script: str
    passage_ids: list[str]


class FacetValue(BaseModel):
    """One facet value and how many documents have it."""

    value: str
    count: int


class SearchResponse(BaseModel):
    """Search and find-similar answers."""

    query: str
    version: str
    count: int
    total: int = Field(0, description="passages in the whole ranked list; `results` is one page of it")
    offset: int = 0
    filters: dict[str, Any]
    results: list[Hit]  # the engine's own dataclass: the document follows the code
    min_match: str = "any"
    did_you_mean: str | None = Field(None, description="a close corpus word when nothing addresses the query")
    excluded: list[str] = Field(default_factory=list,
                                description="search: the query's excluded words (-词, -\"短语\"); no result contains them")
    groups: list[GroupModel]
    facets: dict[str, list[FacetValue]]


class CompareRow(BaseModel):
    """One document's (or body's) best passage."""

    rank: int
    issuing_body: str
    region: str
    year: str
    title: str
    heading: str
    text: str
    score: float
    doc_id: str
    passage_id: str
    match: str = Field("", description="strong, weak, or empty without a cut")


class AbsentRow(BaseModel):
    """A document (or body) in scope that does not address the topic: 未提及."""

    doc_id: str | None
    title: str
    issuing_body: str
    region: str
    year: str


class CompareResponse(BaseModel):
    """Compare as JSON (or, with format=csv, as a CSV file)."""

    model_config = ConfigDict(openapi_extra={"content": {"text/csv": {"schema": {"type": "string"}}}})

    query: str
    by: str
    filters: dict[str, Any]
    count: int
    rows: list[CompareRow]
    facets: dict[str, list[FacetValue]]
    min_match: str
    absent: list[AbsentRow]


class DocumentMeta(BaseModel):
    """A document's metadata."""

    doc_id: str
    title: str
    source: str
    issuing_body: str
    region: str
    year: str
    doc_type: str
    script: str
    published: str


class PassageResponse(DocumentMeta):
    """One passage with its document's metadata and its span in the document."""

    passage_id: str
    heading_path: list[str]
    text: str
    kind: str
    start: int
    end: int
    ordinal: int


class DocumentSummary(DocumentMeta):
    """A document in a listing: its metadata and how many passages it has."""

    passages: int


class DocumentsResponse(BaseModel):
    """Every indexed document."""

    count: int
    documents: list[DocumentSummary]


class PassageSpan(BaseModel):
    """Where a passage sits in its document's text."""

    passage_id: str
    start: int
    end: int
    heading_path: list[str]
    kind: str


class DocumentResponse(DocumentMeta):
    """One document with its text and passage spans."""

    text: str
    passages: list[PassageSpan]


class AtlasMeasure(BaseModel):
    """One row of the atlas: how many columns address, mention or lack the measure, and since when."""

    measure: str
    strong: int
    weak: int
    absent: int
    first_year: str | int | None


class AtlasColumn(BaseModel):
    """One column: a document (key = doc_id), an issuing body, a region or a year."""

    key: str
    title: str
    source: str | None = None
    issuing_body: str | None = None
    region: str | None = None
    year: str | None = None
    doc_type: str | None = None
    script: str | None = None
    documents: int | None = None


class AtlasExcerpt(BaseModel):
    """One passage of a cell's evidence text: which passage, and where it sits in `text`."""

    passage_id: str
    start: int
    end: int


class AtlasCell(BaseModel):
    """Exactly one per measure × column; an absent cell has no passage.

    `text` is the evidence: the best passage (`passage_id`); with `evidence=2`, for a strong cell, a second
    strong passage of the same document follows where there is one (preferably under another top-level
    heading), joined by ' … '. `passages` locates each in `text`."""

    measure: str
    column: str
    status: Literal["strong", "weak", "absent"]
    passage_id: str | None
    text: str | None
    highlights: list[list[int]]
    score: float
    doc_id: str | None = None
    heading_path: list[str] | None = None
    passages: list[AtlasExcerpt] | None = None


class AtlasResponse(BaseModel):
    """The measure atlas."""

    by: str
    version: str
    filters: dict[str, Any]
    measures: list[AtlasMeasure]
    columns: list[AtlasColumn]
    cells: list[AtlasCell]


class ModelSummary(BaseModel):
    """The index's model."""

    name: str
    dim: int
    fingerprint: str


class HealthResponse(BaseModel):
    """Index version, sizes and model; `ready` once the encoder is loaded and a query has run."""

    status: Literal["ok", "starting"]
    ready: bool
    version: str
    documents: int
    passages: int
    model: ModelSummary


# -- one message per error -----------------------------------------------------------------------
def problem(exc: ValidationError) -> str:
    """The first validation error as one sentence that names the parameter."""
    err = exc.errors(include_url=False)[0]
    model = MODELS.get(exc.title)
    known = sorted(model.model_fields) if model else None
    loc = [str(part) for part in err.get("loc", ()) if str(part).isidentifier()]  # no list indexes, no union tags
    name = ".".join(loc) or "body"
    kind, ctx, given = err.get("type", ""), err.get("ctx") or {}, err.get("input")
    if kind == "missing" or (kind in ("string_too_short", "too_short", "string_pattern_mismatch")
                             and name in ("q", "text")):
        return f"'{name}' is required and must be a non-empty string"
    if kind in ("int_parsing", "int_type", "int_from_float", "finite_number"):
        return f"'{name}' must be an integer, got {given!r}"
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _range_of(exc, loc)
        return f"'{name}' must be between {low} and {high}, got {given}"
    if kind == "string_too_long" or (kind == "too_long" and isinstance(given, str)):
        return f"'{name}' is too long ({len(given)} characters, at most {ctx.get('max_length')})"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} values for '{name}'"
    if kind == "extra_forbidden":
        what = "field(s)" if exc.title in ("SimilarBody", "BodyFilters") else "parameter(s)"
        return f"unknown {what}: {name}" + (f"; known: {', '.join(known)}" if known else "")
    if kind in ("bool_parsing", "bool_type"):
        return f"'{name}' must be true or false, got {given!r}"
    if kind == "literal_error":
        return f"'{name}' must be one of {ctx.get('expected')}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "the body must be a JSON object with 'passage_id' or 'text'" if name == "body" else f"'{name}' must be an object"
    if kind in ("string_type", "list_type"):
        return f"'{name}' must be a {'string' if kind == 'string_type' else 'list of strings'}"
    message = err.get("msg", "invalid value").removeprefix("Value error, ")
    return message if name == "body" else f"'{name}' {message}"


def _range_of(exc: ValidationError, loc: list[str]) -> tuple[Any, Any]:
    """The ge/le bounds of the field an error is about (for a message that gives the whole range)."""
    model = MODELS.get(exc.title)
    field = None
    for part in loc:
        fields = getattr(model, "model_fields", {})
        field = fields.get(part)
        model = getattr(field, "annotation", None) if field else None
    low = high = "?"
    for meta in getattr(field, "metadata", []) if field else []:
        low = getattr(meta, "ge", low)
        high = getattr(meta, "le", high)
    if field is not None and (low == "?" or high == "?"):
        low, high = YEAR_MIN, YEAR_MAX
    return low, high


MODELS: dict[str, type[BaseModel]] = {m.__name__: m for m in (SearchQuery, CompareQuery, SimilarBody, BodyFilters,
                                                              AtlasQuery)}
