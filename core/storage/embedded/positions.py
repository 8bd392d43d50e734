"""One position space over a version's segments: live passages numbered 0..n-1 in (document name, id,
ordinal) order, as one index rebuilt from them would number them (so ties and results are the same)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...records import DocumentRecord


@dataclass
class Layout:
    """Where each live document's run of passages is: its segment, its first local position, its first
    global position; and each segment's local → global map (-1 for a tombstoned passage)."""

    documents: dict[str, DocumentRecord]  # live documents in position order
    doc_segment: dict[str, int]
    starts: np.ndarray  # global position of each document's first passage
    run_segment: np.ndarray
    run_first: np.ndarray  # local position of each document's first passage in its segment
    doc_index: np.ndarray  # global position → document number (int32, one per passage)
    local_to_global: list[np.ndarray]  # per segment, int32, -1 where tombstoned
    size: int

    def locate(self, positions) -> tuple[np.ndarray, np.ndarray]:
        """(segment, local position) of global positions."""
        positions = np.asarray(positions, dtype=np.int64)
        run = self.doc_index[positions]
        return self.run_segment[run], self.run_first[run] + positions - self.starts[run]

    def live(self, segment: int) -> np.ndarray | None:
        """Which local positions of a segment are live (None: all of them)."""
        l2g = self.local_to_global[segment]
        return None if len(l2g) == 0 or l2g.min() >= 0 else l2g >= 0


def layout(segments: list, deleted: list[set[str]], by_name: bool = True) -> Layout:
    """The layout of segments' live documents: by (name, id), or in stored order for one old-format version."""
    entries = []
    for s, segment in enumerate(segments):
        for run in segment.runs:
            if run.doc_id in deleted[s]:
                continue
            doc = segment.documents[run.doc_id]
            entries.append(((doc.name, doc.doc_id) if by_name else (s, run.first), s, run))
    entries.sort(key=lambda e: e[0])
    counts = np.array([run.count for _, _, run in entries], dtype=np.int64)
    starts = np.zeros(len(entries), dtype=np.int64)
    if len(entries) > 1:
        np.cumsum(counts[:-1], out=starts[1:])
    l2g = [np.full(segment.size, -1, dtype=np.int32) for segment in segments]
    documents: dict[str, DocumentRecord] = {}
    doc_segment: dict[str, int] = {}
    for i, (_, s, run) in enumerate(entries):
        if run.doc_id in documents:
            raise ValueError(f"document {run.doc_id} is live in two segments")
        l2g[s][run.first : run.first + run.count] = np.arange(starts[i], starts[i] + run.count, dtype=np.int32)
        documents[run.doc_id] = segments[s].documents[run.doc_id]
        doc_segment[run.doc_id] = s
    return Layout(
        documents=documents, doc_segment=doc_segment, starts=starts,
        run_segment=np.array([s for _, s, _ in entries], dtype=np.int32),
        run_first=np.array([run.first for _, _, run in entries], dtype=np.int64),
        doc_index=np.repeat(np.arange(len(entries), dtype=np.int32), counts), local_to_global=l2g,
        size=int(counts.sum()),
    )
