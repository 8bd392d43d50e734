"""Add one report and delete another on a hard-linked copy (cp -al) of scale.py's 1M index at /tmp/seg1m-copy,
timed until the serving engine reflects each (the figures of docs/benchmarks.md at 1M; scale.py does the same)."""
import sys, time
from dataclasses import replace
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "benchmarks"))
from pathlib import Path
from core.model import Encoder
from core.storage.base import IndexChanges
from core.storage.embedded import EmbeddedStorage
from core.textform import matching_form, tokenize
from search.engine import SearchEngine
from scale import PROBE
idx = Path("/tmp/seg1m-copy")
enc = Encoder()
t = time.perf_counter(); engine = SearchEngine(idx, encoder=enc); engine.search("法律顾问", k=10, mode="bm25", min_match="any")
print(f"open + first search (not timed below): {time.perf_counter() - t:.1f}s", flush=True)
state = engine._state
reports = [d for d in state.documents.values() if d.source.startswith("cn-work-reports") and "~" not in d.doc_id]
src, victim = reports[0], reports[1]
own = state.document_passages(src.doc_id)
from core.records import DOCUMENT_FIELDS, DocumentRecord
doc = DocumentRecord(**{f: getattr(src, f) for f in DOCUMENT_FIELDS})
doc = replace(doc, doc_id="added-report", name=src.name + "-added", source=src.source + "-added", content_hash="added", n_passages=len(own))
added = [replace(p, doc_id="added-report", passage_id=f"added-report-{p.ordinal:04d}") for p in own]
first = matching_form(PROBE)
added[0] = replace(added[0], text=added[0].text + PROBE, match_text=added[0].match_text + first, tokens=added[0].tokens + tokenize(first))
storage = EmbeddedStorage(idx)
engine.search(PROBE, k=3, mode="bm25", min_match="any")  # the query itself once before (its terms' first scan)
vp = state.document_passages(victim.doc_id)[0]
engine.search(vp.text[:40], k=10, mode="bm25", min_match="any")
t0 = time.perf_counter()
vectors = enc.encode_passages([p.match_text for p in added]); te = time.perf_counter() - t0
with storage.writer_lock():
    storage.publish_changes(IndexChanges([doc], added, vectors, []), enc.info)
tp = time.perf_counter() - t0 - te
engine.refresh(); to = time.perf_counter() - t0 - te - tp
hits = engine.search(PROBE, k=3, mode="bm25", min_match="any").hits
add_s = time.perf_counter() - t0
print(f"add one report ({len(added)} passages): {add_s:.2f}s = encode {te:.2f} + publish {tp:.2f} + open {to:.2f} + first search {add_s-te-tp-to:.2f}; found first: {hits[0].doc_id == 'added-report'}", flush=True)
t0 = time.perf_counter()
with storage.writer_lock():
    storage.publish_changes(IndexChanges(removed=[victim.doc_id]), enc.info)
tp = time.perf_counter() - t0
engine.refresh()
hits = engine.search(vp.text[:40], k=10, mode="bm25", min_match="any").hits
delete_s = time.perf_counter() - t0
print(f"delete one report ({victim.n_passages} passages): {delete_s:.2f}s (publish {tp:.2f}); gone: {victim.doc_id not in engine._state.documents and all(h.doc_id != victim.doc_id for h in hits)}", flush=True)
print(f"segments {[s.size for s in engine._state.segments]}")
