"""A tiny deterministic encoder for plumbing tests (no model download, no torch)."""

from __future__ import annotations

import hashlib

import numpy as np

from core.model import ModelInfo


class HashEncoder:
    """Character-bigram hashing into a small normalized vector; same interface as indexer.model.Encoder."""

    def __init__(self, name: str = "test/hash-encoder", dim: int = 64) -> None:
        self.name, self.dim = name, dim
        self.calls = 0
        self.encoded = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        for a, b in zip(text, text[1:]):
            h = int(hashlib.md5((a + b).encode()).hexdigest()[:8], 16)
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts):
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts, show_progress: bool = False):
        self.calls += 1
        self.encoded += len(texts)
        return self.encode_queries(texts)

    @property
    def info(self) -> ModelInfo:
        probe = self.encode_passages(["法律顾问", "公平竞争审查"])
        self.calls -= 1
        self.encoded -= 2
        return ModelInfo(self.name, self.dim, "hash", probe.tolist())
