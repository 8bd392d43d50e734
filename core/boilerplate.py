"""Formulas that recur across reports (以习近平…为指导, 现将…报告如下) and must not decide what is similar."""

from __future__ import annotations

import re

CN = "一二三四五六七八九十"
# Matched on the matching form (Simplified, NFKC). Each pattern is a whole formulaic clause.
FORMULAS = [
    r"(?:始终|坚持|全面|深入)*以习近平新时代中国特色社会主义思想为(?:指导|引领|根本遵循)",
    rf"(?:全面|深入|认真)*(?:学习)?(?:宣传)?贯彻(?:落实)?(?:党的)?[{CN}]+大(?:和|及|以及|、)?(?:[{CN}]+届[{CN}中、]*全会)?(?:精神)?",
    rf"(?:全面|深入|认真)*(?:学习)?(?:宣传)?贯彻(?:落实)?(?:党的)?[{CN}]+届[{CN}中、]*全会(?:精神)?",
    r"(?:深入|认真)*(?:学习)?(?:宣传)?贯彻(?:落实)?习近平法治思想",
    r"(?:深入|认真)*(?:学习)?(?:贯彻)?(?:落实)?(?:和|及|以及)?习近平总书记[^。；，,]{0,30}(?:重要讲话|重要指示|批示)[^。；，,]{0,12}精神",
    r"增强[“\"]?四个意识[”\"]?、?坚定[“\"]?四个自信[”\"]?、?做到[“\"]?两个维护[”\"]?",
    r"现将[^。]{0,40}(?:情况|工作)?报告如下[:：]?",
    r"在(?:市委|省委|区委|县委|党组|党委)、?(?:市|省|区|县)?(?:政府)?的?(?:正确|坚强)?领导下",
    r"(?:具体|主要)?(?:工作)?情况(?:报告)?如下[:：]?",
    r"专此报告。?|特此报告。?",
]
_FORMULA = re.compile("|".join(f"(?:{p})" for p in FORMULAS))
_DANGLING = re.compile(r"^[，,、；;：:\s]+|[，,、；;]+(?=[，,、；;。])")
MIN_REMAINDER = 8  # characters; a passage that is all formula keeps its text


def strip_boilerplate(text: str) -> str:
    """`text` (matching form) without formulaic clauses; unchanged when little would be left."""
    stripped = _FORMULA.sub("", text)
    if stripped == text:
        return text
    stripped = _DANGLING.sub("", stripped).strip()
    return stripped if len(re.sub(r"\W", "", stripped)) >= MIN_REMAINDER else text
