"""The fast CPU path: a sentence-transformers model exported to ONNX with int8 weights, built once and cached.

The build (torch export, ONNX Runtime's BERT fusions, dynamic per-channel int8 quantization) needs torch;
running it needs only onnxruntime and tokenizers. Supported: a Transformer module followed by mean or CLS
pooling (and optionally Normalize), which covers the e5 family and most sentence-transformers models.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

ONNX_FILE = "model_int8.onnx"
META_FILE = "fazhi-onnx.json"
BUILD_FORMAT = 1  # bump when the build steps change, so old caches are rebuilt
# Measured in benchmarks/encode.py: small batches of similar lengths are fastest on CPU (little padding).
ONNX_BUILD_SECONDS = 35  # measured once on 2 cores (README): said to the user before a first build
ONNX_BATCH = 4
# Up to this many texts are one request's (a query, a selection, an atlas's measures): they run on one core
# without spinning. With 8 server threads encoding at once, intra-op threads and their spin-waits only burn
# the CPU the other requests need: one query cost 12–18 ms of CPU on all cores against 9 ms on one (2-core
# machine, 100 STARD questions). Larger calls (indexing batches) use every core.
REQUEST_TEXTS = 32


class OnnxBuildError(RuntimeError):
    """The model cannot be exported to the int8 ONNX path (it can still run on torch)."""


def onnx_build_dir(model_path: str, cache: Path) -> Path:
    """The cache folder of the int8 build of `model_path` (keyed by path, weight files and tool versions)."""
    import importlib.metadata

    stamp = [str(BUILD_FORMAT), model_path, importlib.metadata.version("onnxruntime")]
    folder = Path(model_path)
    if folder.is_dir():
        for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
            st = weights.stat()
            stamp.append(f"{weights.name}:{st.st_size}:{int(st.st_mtime)}")
    digest = hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:12]
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in (folder.name or model_path))[-60:]
    return cache / "onnx" / f"{slug}-{digest}"


def build_onnx_int8(model_path: str, target: Path) -> Path:
    """Export, fuse and quantize `model_path` into `target` once (under a file lock); return `target`."""
    if (target / META_FILE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / META_FILE).exists():
            return target
        logging.getLogger("fazhi").warning(
            "first run: exporting and quantizing the int8 ONNX encoder into %s (once, about %d s)",
            target, ONNX_BUILD_SECONDS)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            _export(model_path, tmp)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _modules(model) -> tuple[object, str]:
    """The Transformer module and the pooling mode ('mean' or 'cls'); the graph always normalizes."""
    names = [type(m).__name__ for m in model]
    if len(names) < 2 or names[0] != "Transformer" or names[1] != "Pooling" or any(
        n != "Normalize" for n in names[2:]
    ):
        raise OnnxBuildError(f"modules {names} are not Transformer → Pooling (→ Normalize)")
    pooling = model[1]
    mode = getattr(pooling, "pooling_mode", None) or (
        "mean" if getattr(pooling, "pooling_mode_mean_tokens", False)
        else "cls" if getattr(pooling, "pooling_mode_cls_token", False) else None
    )
    if mode not in ("mean", "cls"):
        raise OnnxBuildError(f"pooling mode {mode!r} is not mean or cls")
    return model[0], mode


def _export(model_path: str, folder: Path) -> None:
    """Write the int8 ONNX graph, the tokenizer and a small meta file into `folder`."""
    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    transformers.logging.set_verbosity_error()
    model = SentenceTransformer(model_path, device="cpu")
    transformer, mode = _modules(model)
    auto = transformer.auto_model.eval()
    auto.set_attn_implementation("eager")  # the classic pattern, which ONNX Runtime fuses into Attention
    config = auto.config

    class Pooled(torch.nn.Module):
        """Transformer, pooling and L2 normalization in one graph."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            if mode == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    fp32 = folder / "model_fp32.onnx"
    dummy = torch.ones((2, 8), dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on the exporter and on constant shapes
        torch.onnx.export(
            Pooled(auto), (dummy, dummy), str(fp32), input_names=["input_ids", "attention_mask"],
            output_names=["embedding"], opset_version=17, dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "embedding": {0: "batch"}},
        )
    fused = _fused(fp32, config)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs generic advice on the root logger
    try:
        quantize_dynamic(str(fused), str(folder / ONNX_FILE), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": 1})  # 1 = FLOAT, for outputs of fused ops
    finally:
        root.setLevel(level)
    for leftover in {fp32, fused}:
        leftover.unlink()
    model.tokenizer.save_pretrained(str(folder))
    if not (folder / "tokenizer.json").exists():
        raise OnnxBuildError("the model has no fast tokenizer (tokenizer.json)")
    prompts = getattr(model, "prompts", {}) or {}
    meta = {
        "source": model_path, "dim": int(auto.config.hidden_size), "pooling": mode,
        "max_seq_length": int(model.max_seq_length or 512), "prompts": prompts,
        "pad_id": int(config.pad_token_id or 0), "build_format": BUILD_FORMAT,
    }
    (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")


def _fused(fp32: Path, config) -> Path:
    """ONNX Runtime's transformer fusions (Attention, SkipLayerNorm, BiasGelu) where the architecture allows."""
    if config.model_type not in ("bert", "xlm-roberta", "roberta"):
        return fp32
    from onnxruntime.transformers import optimizer

    fused = fp32.with_name("model_fused.onnx")
    optimized = optimizer.optimize_model(
        str(fp32), model_type="bert", num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size), opt_level=1,
    )
    optimized.save_model_to_file(str(fused))
    return fused


class OnnxEncoderSession:
    """Runs the int8 graph: tokenize, batch by length, return L2-normalized float32 rows."""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        self.folder = folder
        self.dim = int(meta["dim"])
        self.pad_id = int(meta.get("pad_id", 0))
        self.prompts: dict[str, str] = meta.get("prompts") or {}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(meta["max_seq_length"]))
        self.tokenizer.no_padding()
        self.threads = threads or 0  # of the batch session; 0: every core
        self.requests_only = False  # a server: every call runs as a request (one core), indexing included
        self._sessions: dict[str, object] = {}
        self._sessions_lock = threading.Lock()
        self._session("request")  # loaded now, so a broken build fails here and not on the first query

    def _session(self, kind: str):
        """The "request" session (one core, no spinning) or the "batch" one (all cores), made on first use."""
        with self._sessions_lock:
            if kind not in self._sessions:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.log_severity_level = 3
                options.intra_op_num_threads = 1 if kind == "request" else self.threads
                if kind == "request":
                    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._sessions[kind] = ort.InferenceSession(
                    str(self.folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])
            return self._sessions[kind]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` in order."""
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        batch = len(texts) > REQUEST_TEXTS and not self.requests_only
        session = self._session("batch" if batch else "request")
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), ONNX_BATCH):
            rows = order[start : start + ONNX_BATCH]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.full((len(rows), width), self.pad_id, np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n], mask[r, :n] = encodings[i].ids, 1
            out[rows] = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out
