"""A long source treated as a source, not as a query: which of its words may decide what is similar.

find-similar starts from a whole paragraph or article. Sent to BM25 as it is, every word votes, and the
words every report shares (完成, 人民政府, 进一步) or every law shares (规定, 应当, 依法) outvote the two or
three that say what the passage is about. As Lucene's more_like_this does, the source is reduced to its
most distinctive terms (term frequency × inverse document frequency, over the index's own passages), words
found in a large share of passages never count, and highlights only ever show terms from this selection.

Vocabulary folding (軟體/软件, 資訊/信息, 個資/个人信息) is done here too, at query time: the source's words
are added in the other script's vocabulary (OpenCC's phrase configurations), so a Simplified source also
matches a Taiwanese passage's wording and the reverse, without re-indexing.

Everything here is a pure function of the text and a document-frequency callable.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from typing import Callable, Iterable

from core.textform import matching_form, tokenize

# Words of government and legal prose that carry no measure of their own. Document frequency catches most
# of them on a large index; on a small one (five reports) it cannot, so they are named as well.
FILLER = frozenset(
    "完成 人民政府 政府 进一步 提高 提升 落实 推动 强化 深化 健全 完善 建立 全面 深入 认真 切实 有效 不断 "
    "严格 按照 根据 要求 部门 单位 有关 相关 方面 水平 能力 机制 制度 情况 问题 以来 今年 全年 目前 共 "
    "我局 我市 我厅 本局 本市 市 省 区 局 厅 委 其他 以及 或者 应当 规定 依照 本法 前款 前项 条例 办法 "
    # enumeration and the connective tissue of report prose (一是…二是…, 充分发挥…作用)
    "一是 二是 三是 四是 五是 六是 七是 八是 九是 十是 首先 其次 再次 最后 同时 此外 "
    "充分发挥 发挥 作用 积极 保障 持续 加大 力度 确保 实现 坚持 围绕 结合 通过 形成 努力 大力 扎实 着力 "
    "各项 各类 重点 重要 主要 全局 全市 全省 有序 及时 不断 进行 开展 加强 推进 工作".split()
)
# jieba's search mode also emits the pieces of a word (充分发挥 → 充分, 分发, 发挥): pieces of filler are filler.
_FILLER_PIECES = frozenset(w[i:j] for w in FILLER if len(w) >= 4 for i in range(len(w)) for j in range(i + 2, len(w) + 1))
SENTENCE = re.compile(r"[^。；;！!？?\n]+[。；;！!？?\n]?")
MAX_SHARE = 0.08  # a term in more than this share of passages is filler on this index
MAX_TERMS = 24  # more_like_this keeps 25 by default; long articles rarely need more


def sentences(text: str, min_chars: int = 8) -> list[str]:
    """The source's sentences (。；！？ or a line break end one); fragments under min_chars join the next."""
    out: list[str] = []
    carry = ""
    for match in SENTENCE.finditer(text or ""):
        piece = carry + match.group(0)
        if len(re.sub(r"\W", "", piece)) < min_chars:
            carry = piece
            continue
        out.append(piece.strip())
        carry = ""
    if carry.strip():
        if out:
            out[-1] += carry.strip()
        else:
            out.append(carry.strip())
    return out


_NUMBER = re.compile(r"[\d.%]+")


@lru_cache(maxsize=65536)
def is_filler(term: str) -> bool:
    """A word that must never decide or be highlighted: named filler, numbers, or one character."""
    return term in FILLER or term in _FILLER_PIECES or len(term) < 2 or bool(_NUMBER.fullmatch(term))


# jieba's part-of-speech tags for words that hold a sentence together rather than say what it is about:
# prepositions (关于, 对于, 为了), conjunctions (以及, 或者, 并且), pronouns (其他, 这些, 各级), particles (等等),
# localisers (以下, 之间), numerals and measure words (一个, 多次), interjections and onomatopoeia. Adverbs (d)
# are not among them: jieba tags 随机 (双随机一公开) as one.
FUNCTION_TAGS = frozenset("p c r u f m q y e o".split())


@lru_cache(maxsize=65536)
def is_function_word(term: str) -> bool:
    """A dictionary word whose jieba part-of-speech tag is a function word's (FUNCTION_TAGS); never highlighted."""
    return (_word_tags().get(term) or "x")[0] in FUNCTION_TAGS


@lru_cache(maxsize=1)
def _word_tags() -> dict[str, str]:
    import jieba.posseg

    return jieba.posseg.dt.word_tag_tab


def select_terms(
    tokens: Iterable[str], doc_freq: Callable[[str], int], n_passages: int, max_terms: int = MAX_TERMS,
    max_share: float = MAX_SHARE,
) -> list[tuple[str, float]]:
    """(term, weight) of the source's most distinctive terms, best first (more_like_this).

    weight = sqrt(tf) × idf, idf = ln(1 + N / df). Terms unknown to the index (df 0) cannot match and are
    dropped; terms in more than `max_share` of the passages and named filler never count.
    """
    counts = Counter(tokens)
    limit = max(2, int(n_passages * max_share))
    scored = []
    for term, tf in counts.items():
        if is_filler(term):
            continue
        df = doc_freq(term)
        if df <= 0 or df > limit:
            continue
        scored.append((term, math.sqrt(tf) * math.log(1 + n_passages / df)))
    scored.sort(key=lambda tw: (-tw[1], tw[0]))
    return scored[:max_terms]


def weighted_query(terms: list[tuple[str, float]]) -> list[str]:
    """A token list for BM25 in which each term is repeated by its weight class (1–3).

    bm25s sums the score of each query token, so repeating a token weights it; three classes keep the
    query short while letting the rarest terms count most.
    """
    if not terms:
        return []
    top = terms[0][1]
    out = []
    for term, weight in terms:
        out += [term] * (3 if weight >= 0.66 * top else 2 if weight >= 0.4 * top else 1)
    return out


@lru_cache(maxsize=4)
def _opencc(config: str):
    import opencc

    return opencc.OpenCC(config)


def folded_forms(text: str) -> list[str]:
    """The text in the other script's vocabulary, in matching form: Taiwan's words (軟體) for a Simplified text
    and the PRC's (软件) for a Traditional one. Character folding alone (matching_form) is not repeated here."""
    forms = []
    for config in ("tw2sp", "s2twp"):
        converted = matching_form(_opencc(config).convert(text))
        if converted != matching_form(text):
            forms.append(converted)
    return forms


def source_tokens(text: str, fold_vocabulary: bool = False) -> list[str]:
    """The source's tokens, plus (when folding) the tokens its other-vocabulary forms add."""
    tokens = tokenize(text)
    if fold_vocabulary:
        seen = set(tokens)
        for form in folded_forms(text):
            extra = [t for t in tokenize(form) if t not in seen]
            tokens += extra
            seen.update(extra)
    return tokens
