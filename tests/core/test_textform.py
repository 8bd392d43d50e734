"""OpenCC t2s matching form, script detection, tokens."""

from core.textform import matching_form, script_of, to_simplified, token_spans, tokenize


def test_t2s_fixes_bad_machine_conversion_and_keeps_length():
    trad = "全麵推進完善製度建設，法律顧問"
    simp = to_simplified(trad)
    assert simp == "全面推进完善制度建设，法律顾问"
    assert len(simp) == len(trad)


def test_matching_form_folds_full_width_and_script():
    assert matching_form("ＡＢＣ１２３法律顧問") == "ABC123法律顾问"


def test_both_scripts_give_the_same_tokens():
    assert tokenize("聘請律師事務所法律顧問團隊") == tokenize("聘请律师事务所法律顾问团队")
    assert "法律顾问" in tokenize("法律顧問")
    assert "，" not in tokenize("法律顾问，公平竞争审查")


def test_token_spans_index_the_original_traditional_text():
    text = "聘請律師事務所法律顧問"
    spans = {tok: text[s:e] for tok, s, e in token_spans(text)}
    assert spans["法律顾问"] == "法律顧問"


def test_script_detection(seed_text):
    assert script_of(seed_text("gz_gov_2018_trad")) == "traditional"
    assert script_of(seed_text("gz_ict_2019")) == "simplified"


def test_token_spans_of_wanted_words_cut_only_their_clauses_and_find_the_same_tokens(seed_text):
    text = seed_text("gz_gov_2018_trad")[:3000] + "。Ａ股和B股、法。"
    every = token_spans(text)
    singles = {tok for tok, _, _ in every if len(tok) == 1}
    assert len(singles) > 5
    for wanted in (set(sorted(singles)[:3]), {"法", "a", "b"}, {"不在文中的字"}):
        assert [t for t in token_spans(text, wanted) if t[0] in wanted] == [t for t in every if t[0] in wanted]
    assert token_spans(text, {"法"}) != every  # other clauses were not cut
