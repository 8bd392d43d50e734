"""Reading the product's CSV exports back: a preamble of what was asked, a blank line, then the rows."""

from __future__ import annotations

import csv
import io


def read_csv_export(text: str, columns: dict[str, str]) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(preamble label → value, rows keyed by field name) of an export whose headers are `columns`' labels."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    blank = next(i for i, line in enumerate(lines) if not line.strip())
    about = {row[0]: row[1] for row in csv.reader(lines[:blank]) if len(row) >= 2}
    field_of = {label: name for name, label in columns.items()}
    rows = [{field_of.get(k, k): v for k, v in row.items()} for row in csv.DictReader(io.StringIO("".join(lines[blank + 1:])))]
    return about, rows
