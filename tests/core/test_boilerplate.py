"""Formulaic clauses are left out of matching so that the measure itself decides similarity."""

import pytest

from core.boilerplate import strip_boilerplate
from core.textform import matching_form

PADDING = ("2024年，我局坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻党的二十大及二十届三中全会精神，"
           "深入学习贯彻习近平法治思想和习近平总书记重要讲话精神，")
MEASURE = "聘请律师事务所法律顾问团队参与政府合同审查和行政决策合法性审查。"


@pytest.mark.parametrize("text,kept", [
    (PADDING + MEASURE, "聘请律师事务所法律顾问团队"),
    ("2018年，我市以習近平新時代中國特色社會主義思想為指導，全麵貫徹黨的十九大和十九屆二中、三中全會精神，聘請律師擔任法律顧問。", "聘请律师担任法律顾问"),
])
def test_formulas_are_removed_and_the_measure_kept(text, kept):
    stripped = strip_boilerplate(matching_form(text))
    assert kept in stripped
    for formula in ("习近平新时代中国特色社会主义思想", "全会精神", "习近平法治思想", "重要讲话"):
        assert formula not in stripped


def test_a_passage_that_is_all_formula_keeps_its_text():
    text = matching_form("以习近平新时代中国特色社会主义思想为指导，全面贯彻党的二十大精神。")
    assert strip_boilerplate(text) == text


def test_text_without_formulas_is_unchanged():
    text = matching_form(MEASURE)
    assert strip_boilerplate(text) is text


@pytest.mark.model
def test_padded_measure_still_finds_the_same_measure_first(engine):
    result = engine.similar(text=PADDING + MEASURE, k=5, per_doc=1)
    top = result.hits[:3]
    assert all("法律顾问" in h.text or "法律顧問" in h.text for h in top), [h.text[:30] for h in top]
    assert not any("思想為指導" in h.text or "思想为指导" in h.text for h in result.hits[:4])


@pytest.mark.model
def test_formula_alone_is_not_what_makes_opening_paragraphs_similar(engine, real_encoder):
    """Without stripping, the padding pulls report openings up; the stored passages have it stripped."""
    vectors = real_encoder.encode_passages([matching_form(PADDING + MEASURE)])
    state = engine._state
    raw_top = [state.doc_of_pos[p] for p, _ in state.dense.top(vectors[0], 5)]
    opening_positions = {state.passage_pos[pid] for pid in state.passage_pos if pid.endswith("-0000")}
    stripped_top = [p for p, _ in state.dense.top(engine.encoder.encode_passages(
        [strip_boilerplate(matching_form(PADDING + MEASURE))])[0], 5)]
    assert not opening_positions & set(stripped_top[:3])
    assert raw_top  # the unstripped query still runs; the assertion above is the one that matters
