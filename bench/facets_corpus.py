"""The facets benchmark's corpus: the bench corpus with entities and languages.

Usage, from the repository root::

    .venv/bin/python bench/facets_corpus.py --size 100000

Takes the records of `bench/corpus.py` (500 topics, Markdown bodies) and
writes them twice under ``bench/out/facets-<size>-s<seed>-v<version>/``:

- ``with/``: each record with 8 distinct entities drawn Zipf-like (s = 1) from
  a pool of ``ENTITY_POOL`` names, and one of 5 languages;
- ``without/``: the same records with ``entities: []`` and no ``lang``, the
  baseline "without facets".

The pool mixes plain Latin names, accented ones ("Société Générale"), some
whose accent-folded slug collides with a plain one ("Societe Generale"),
names with no Latin letters (Cyrillic, Greek, CJK: hash slugs), and names
that some records spell in capitals ("NVIDIA" beside "Nvidia", merged as one).
``edits-with.jsonl`` and ``edits-without.jsonl`` hold the corpus's 100 edits;
in the first, each edit keeps half of its entities and draws the rest again.
Everything comes from seeded ``random.Random`` objects, so a size and a seed
always give the same bytes; ``manifest.json`` is written last.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.corpus import DEFAULT_SEED, ensure_corpus  # noqa: E402

__all__ = ["FACETS_VERSION", "FacetCorpus", "ensure_facet_corpus", "entity_pool"]

#: Bump when the output changes, so cached corpora are rebuilt.
FACETS_VERSION = 1
ENTITY_POOL = 24_000
ENTITIES_PER_RECORD = 8
#: (tag, share of records); "pt-BR" is served lower-cased as /feeds/lang/pt-br.
LANGUAGES = (("en", 0.46), ("de", 0.18), ("fr", 0.16), ("es", 0.12), ("pt-BR", 0.08))

_SYLLABLES = (
    "al an ar bel ber cal car cor dan del dor el en er fal fen gar gel hal har "
    "in is kal ken lan lor mar mel mor nal nor or os pal per quin ran ros sal "
    "sel tal ter tor ul ur val ver wen win yor zan zel"
).split()
_ACCENTED = "é è ü ö ä ñ ø å ç ß ô í".split()
_SUFFIXES = (
    "Labs Systems Capital Energy Motors Foods Bank Holdings Group Pharma "
    "Networks Robotics Airlines Insurance Media Partners Semiconductor Mining"
).split()
_CYRILLIC = "абвгдежзиклмнопрстуфхцчшэюя"
_GREEK = "αβγδεζηθικλμνξοπρστυφχψω"
_CJK = "東京電力中国银行三星华为新日本製鉄大阪北海道科技集团股份有限公司"


def _word(rng: random.Random, accented: bool) -> str:
    word = "".join(rng.choices(_SYLLABLES, k=rng.randint(2, 3)))
    if accented:
        at = rng.randrange(1, len(word))
        word = word[:at] + rng.choice(_ACCENTED) + word[at + 1 :]
    return word.capitalize()


def _script_name(rng: random.Random, letters: str) -> str:
    words = ["".join(rng.choices(letters, k=rng.randint(2, 5))) for _ in range(rng.randint(1, 2))]
    return " ".join(w.capitalize() for w in words)


def entity_pool(rng: random.Random, size: int = ENTITY_POOL) -> list[str]:
    """`size` names with distinct merge keys (case-folded), the most popular first.

    About 10 % accented, 3 % their accent-folded twins (same slug, another
    entity), 5 % with no Latin letter; the rest plain "Word Word [Suffix]".
    """
    names: list[str] = []
    keys: set[str] = set()

    def add(name: str) -> None:
        key = " ".join(name.split()).casefold()
        if key not in keys:
            keys.add(key)
            names.append(name)

    while len(names) < size:
        kind = rng.random()
        if kind < 0.05:
            add(_script_name(rng, rng.choice((_CYRILLIC, _GREEK, _CJK))))
        elif kind < 0.15:
            name = f"{_word(rng, True)} {_word(rng, rng.random() < 0.5)}"
            add(name)
            if rng.random() < 0.3:  # the same name typed without accents
                add(name.translate(_FOLD))
        else:
            words = [_word(rng, False) for _ in range(rng.randint(1, 2))]
            if rng.random() < 0.5:
                words.append(rng.choice(_SUFFIXES))
            add(" ".join(words))
    return names[:size]


_FOLD = str.maketrans("éèüöäñøåçßôí", "eeuoanoacsoi")


class _Draw:
    """Zipf-like draws over the pool; some names are sometimes written in capitals."""

    def __init__(self, rng: random.Random, names: list[str]) -> None:
        self.rng = rng
        self.names = names
        self.cum: list[float] = []
        total = 0.0
        for rank in range(len(names)):
            total += 1.0 / (rank + 1)
            self.cum.append(total)
        #: Every 7th name is one an editor sometimes types in capitals ("NVIDIA").
        self.shouty = set(range(0, len(names), 7))

    def index(self) -> int:
        x = self.rng.random() * self.cum[-1]
        return min(bisect.bisect_left(self.cum, x), len(self.names) - 1)

    def spelling(self, i: int) -> str:
        name = self.names[i]
        return name.upper() if i in self.shouty and self.rng.random() < 0.3 else name

    def entities(self, keep: list[int] | None = None) -> list[int]:
        chosen = list(keep or [])
        while len(chosen) < ENTITIES_PER_RECORD:
            i = self.index()
            if i not in chosen:
                chosen.append(i)
        return chosen

    def lang(self) -> str:
        x, acc = self.rng.random(), 0.0
        for tag, share in LANGUAGES:
            acc += share
            if x < acc:
                return tag
        return LANGUAGES[-1][0]


@dataclass(frozen=True, slots=True)
class FacetCorpus:
    """A facets corpus on disk: the two source folders and their edit files."""

    root: Path
    size: int
    seed: int

    def records(self, variant: str) -> Path:
        """The source folder of one variant: ``with`` or ``without``."""
        return self.root / variant

    def edits(self, variant: str) -> Path:
        """The 100 edited records of one variant."""
        return self.root / f"edits-{variant}.jsonl"

    def manifest(self) -> dict[str, Any]:
        """What was recorded when the corpus was made."""
        data: dict[str, Any] = json.loads((self.root / "manifest.json").read_text())
        return data


def _generate(root: Path, base_dir: Path, size: int, seed: int) -> FacetCorpus:
    base, _ = ensure_corpus(base_dir, size, seed)
    tmp = root.with_name(f".{root.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for variant in ("with", "without"):
        (tmp / variant).mkdir(parents=True)
    rng = random.Random(seed ^ 0xFAC375)
    names = entity_pool(rng)
    draw = _Draw(rng, names)
    edited = {orjson.loads(line)["slug"] for line in base.incremental.read_bytes().splitlines()}
    originals: dict[str, tuple[list[int], str]] = {}
    used: set[str] = set()
    langs: dict[str, int] = {}
    for path in base.files:
        with (
            path.open("rb") as src,
            (tmp / "with" / path.name).open("wb") as out_with,
            (tmp / "without" / path.name).open("wb") as out_without,
        ):
            for line in src:
                record = orjson.loads(line)
                picked, lang = draw.entities(), draw.lang()
                if record["slug"] in edited:
                    originals[record["slug"]] = (picked, lang)
                _write(record, draw, picked, lang, out_with, out_without, used)
                langs[lang] = langs.get(lang, 0) + 1
    with (
        (tmp / "edits-with.jsonl").open("wb") as out_with,
        (tmp / "edits-without.jsonl").open("wb") as out_without,
    ):
        for line in base.incremental.read_bytes().splitlines():
            record = orjson.loads(line)
            picked, lang = originals[record["slug"]]
            # Half the entities stay, half are drawn again: feeds gain and lose it.
            again = draw.entities(picked[: ENTITIES_PER_RECORD // 2])
            _write(record, draw, again, lang, out_with, out_without, used)
    manifest = {
        "version": FACETS_VERSION,
        "size": size,
        "seed": seed,
        "base": str(base.root),
        "entity_pool": len(names),
        "entities_per_record": ENTITIES_PER_RECORD,
        "distinct_spellings_used": len(used),
        "languages": langs,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return FacetCorpus(root, size, seed)


def _write(
    record: dict[str, Any],
    draw: _Draw,
    picked: list[int],
    lang: str,
    out_with: Any,
    out_without: Any,
    used: set[str],
) -> None:
    spellings = [draw.spelling(i) for i in picked]
    used.update(spellings)
    out_with.write(orjson.dumps({**record, "entities": spellings, "lang": lang}) + b"\n")
    bare = {key: value for key, value in record.items() if key != "lang"}
    out_without.write(orjson.dumps({**bare, "entities": []}) + b"\n")


def ensure_facet_corpus(
    base_dir: Path, size: int, seed: int = DEFAULT_SEED
) -> tuple[FacetCorpus, bool]:
    """The cached facets corpus for (size, seed), generated if missing; (corpus, made)."""
    root = base_dir / f"facets-{size}-s{seed}-v{FACETS_VERSION}"
    if (root / "manifest.json").is_file():
        return FacetCorpus(root, size, seed), False
    root.parent.mkdir(parents=True, exist_ok=True)
    return _generate(root, base_dir, size, seed), True


def main() -> int:
    """Generate (or find) a facets corpus from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    corpus, _ = ensure_facet_corpus(args.out, args.size, args.seed)
    sys.stdout.write(json.dumps(corpus.manifest(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
