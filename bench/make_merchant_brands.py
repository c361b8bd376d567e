"""Builds ``ml/data/merchant_brands.tsv``: brand names and the kind of place they are, from the OpenStreetMap
name-suggestion-index (https://github.com/osmlab/name-suggestion-index, BSD 3-Clause, see ``ml/data/README.md``).

A bank line names a merchant, rarely what it sells; a merchant never seen in a user's history ("MITRE 10 MEGA",
"KATHMANDU NEWMARKET") still says what it is to anyone who knows the brand. The index is that public knowledge:
~20k chains worldwide tagged ``shop=outdoor``, ``amenity=fuel``, ``shop=doityourself``... Only Latin-script names
are kept (bank lines are in the Latin alphabet), each cleaned exactly as :func:`ml.features.clean_description`
cleans a statement line so both sides compare equal.

    .venv/bin/python bench/make_merchant_brands.py /work/.mirror/osmlab+name-suggestion-index/repo [commit]
"""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

import pandas as pd

from ml.features import _GENERIC, MERCHANT_KINDS, clean_description

OUT = Path(__file__).resolve().parents[1] / "ml" / "data" / "merchant_brands.tsv"
SKIP_KEYS = {"advertising", "landuse", "emergency"}
SKIP_KINDS = {  # street furniture and machines, not merchants a statement line names
    f"amenity={value}"
    for value in "waste_basket trolley_bay public_bookcase bicycle_parking recycling parcel_locker telephone "
    "vending_machine photo_booth payment_terminal food_sharing".split()
}

# one-word names that are also everyday words of statement lines
COMMON = set("HOME STORE STORES SHOP MARKET RENT ONE GO BIG MOBILE BANK CENTRAL CITY CAFE ONLINE SERVICE".split())


def latin(name: str) -> bool:
    letters = [c for c in name if c.isalpha()]
    return bool(letters) and all("LATIN" in unicodedata.name(c, "") for c in letters)


def ascii_fold(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()


def main() -> None:
    repo = Path(sys.argv[1])
    commit = sys.argv[2] if len(sys.argv) > 2 else "HEAD"
    git = ["git", "--git-dir", str(repo)]
    files = subprocess.run(
        [*git, "ls-tree", "-r", "--name-only", commit, "data/brands"], capture_output=True, check=True, text=True
    ).stdout.split()
    kinds: dict[str, set[str]] = defaultdict(set)
    generic: set[str] = set(_GENERIC) | {w for words in MERCHANT_KINDS.values() for w in words.split()} | COMMON
    for path in files:
        if not path.endswith(".json"):
            continue
        key, value = path.removeprefix("data/brands/").removesuffix(".json").split("/")[:2]
        kind = f"{key}={value}"
        if key in SKIP_KEYS or kind in SKIP_KINDS:
            continue
        items = json.loads(subprocess.run([*git, "show", f"{commit}:{path}"], capture_output=True, check=True).stdout)
        for pattern in items.get("properties", {}).get("exclude", {}).get("generic", []):
            word = pattern.strip("^$").replace("\\s", " ")
            if word.replace(" ", "").isalpha():  # the index's own list of names too generic to be a brand
                generic.add(ascii_fold(word).upper())
        for item in items.get("items", []):
            tags = item.get("tags", {})
            names = {tags.get("brand"), tags.get("name"), item.get("displayName"), *item.get("matchNames", [])}
            for name in filter(None, names):
                if latin(name):
                    kinds[ascii_fold(name)].add(kind)
    names = pd.Series(sorted(kinds), dtype=object)
    cleaned = clean_description(names).str.replace(r"['.]", "", regex=True).str.strip()
    table: dict[str, set[str]] = defaultdict(set)
    for raw, key in zip(names, cleaned, strict=True):
        # a brand must say something: 2+ letters, not only digits (numbers are cleaned away on both sides)
        if sum(c.isalpha() for c in key) >= 2 and key not in generic:
            table[key] |= kinds[raw]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as out:
        out.write(f"# name-suggestion-index @ {commit} (BSD 3-Clause); built by bench/make_merchant_brands.py\n")
        for key in sorted(table):
            out.write(f"{key}\t{' '.join(sorted(table[key]))}\n")
    print(f"{len(table):,} brand names -> {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
