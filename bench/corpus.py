"""Deterministic benchmark corpus: N article records as JSONL, plus 100 edits.

Usage, from the repository root::

    .venv/bin/python bench/corpus.py --size 100000 --out bench/out/corpus

Records are shaped like ``seeds/000_e0a2023c70849939.json``: 500 topics with
Zipf-like popularity, 1-4 topics a record, Markdown bodies of 4-7 KB with
headings, links, emphasis, lists and quotes. Everything comes from one seeded
``random.Random`` (no clock, no hash randomisation), so a size and a seed
always give the same bytes. Records are written as they are made (never held
in memory) to ``records/part-NNN.jsonl``, oldest first; ``incremental.jsonl``
holds 100 changed records (new title and body, newer ``updated_at``, some
topics moved) meant to be dropped beside them. ``manifest.json`` is written
last, so its presence means the corpus is complete.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

__all__ = ["CORPUS_VERSION", "Corpus", "ensure_corpus", "generate"]

#: Bump when the generator's output changes, so cached corpora are rebuilt.
CORPUS_VERSION = 1
DEFAULT_SEED = 20260630
TOPICS = 500
FILES = 10
EDITS = 100
#: Times are fixed and in the past, so no record is "too far in the future".
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
EDIT_START = END + timedelta(hours=1)

_WORDS = (
    "market energy model chip grid battery policy launch plant research data network "
    "cloud storage orbit satellite vaccine trial climate carbon price rate bank loan "
    "startup funding round investor regulator court ruling election budget tariff export "
    "supply chain factory robot sensor camera software update security breach patch "
    "privacy platform search advertising revenue profit quarter forecast demand growth "
    "inflation currency bond yield labour union strike wage hiring campus student teacher "
    "hospital patient doctor drug approval genome protein cell telescope planet mission "
    "rocket engine fuel hydrogen solar wind nuclear reactor turbine cable port shipping "
    "freight airline airport rail bridge road city housing rent mortgage water river "
    "drought flood heatwave forest species ocean reef fishery farm crop harvest food"
).split()
_ADJECTIVES = (
    "new large small early late open quiet rapid steady global local public private "
    "national regional digital clean fresh major minor central coastal northern southern "
    "eastern western annual record modest sharp slow bold careful"
).split()
_NAMES = (
    "Aldwick Borrowdale Castellan Dunmore Elstree Fairhaven Glenrock Harrowgate Ingleby "
    "Juniper Kestrel Lumen Marlow Northgate Oakridge Penrose Quarry Redfern Stanmore "
    "Thornbury Umber Veridian Westbrook Yarrow Zephyr Halcyon Meridian Solent Tamar Wexford"
).split()


@dataclass(frozen=True, slots=True)
class Corpus:
    """A generated corpus on disk."""

    root: Path
    size: int
    seed: int

    @property
    def records_dir(self) -> Path:
        """The folder of ``part-NNN.jsonl`` files (a `dir` source)."""
        return self.root / "records"

    @property
    def incremental(self) -> Path:
        """The file of 100 changed records."""
        return self.root / "incremental.jsonl"

    @property
    def files(self) -> list[Path]:
        """The record files, in order."""
        return sorted(self.records_dir.glob("*.jsonl"))

    def manifest(self) -> dict[str, Any]:
        """What `generate` recorded about this corpus."""
        data: dict[str, Any] = json.loads((self.root / "manifest.json").read_text())
        return data


def topic_names(rng: random.Random, count: int = TOPICS) -> list[str]:
    """`count` distinct, safe topic slugs; index 0 is the most popular."""
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        name = f"{rng.choice(_ADJECTIVES)}-{rng.choice(_WORDS)}"
        if len(names) % 3 == 2:
            name = f"{name}-{rng.choice(_WORDS)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


class _Text:
    """Pools of sentences and paragraphs, built once; records pick from them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.sentences = [self._sentence() for _ in range(3000)]
        self.paragraphs = [self._paragraph() for _ in range(4000)]

    def _phrase(self, n: int) -> str:
        return " ".join(self.rng.choices(_WORDS, k=n))

    def _sentence(self) -> str:
        rng = self.rng
        words = rng.choices(_WORDS, k=rng.randint(8, 20))
        kind = rng.random()
        i = rng.randrange(len(words))
        if kind < 0.15:
            words[i] = f"*{words[i]}*"
        elif kind < 0.25:
            words[i] = f"**{words[i]}**"
        elif kind < 0.40:
            words[i] = (
                f"[{words[i]} {rng.choice(_WORDS)}](https://example.org/{rng.choice(_WORDS)}/{rng.randrange(10**6)})"
            )
        elif kind < 0.45:
            words[i] = f"`{words[i]}`"
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), rng.choice(_NAMES))
        text = " ".join(words)
        return text[0].upper() + text[1:] + rng.choice((".", ".", ".", "?", "!"))

    def _paragraph(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.08:
            items = [self._phrase(rng.randint(3, 9)) for _ in range(rng.randint(3, 5))]
            return "\n".join(f"- {item}" for item in items)
        sentences = " ".join(rng.choices(self.sentences, k=rng.randint(2, 5)))
        return f"> {sentences}" if kind < 0.12 else sentences

    def body(self, target: int) -> str:
        """Markdown of about `target` bytes: an italic lede, then sections."""
        rng = self.rng
        parts = [f"*{rng.choice(self.sentences)}*"]
        size = len(parts[0])
        while size < target:
            if rng.random() < 0.25:
                heading = f"## {self._phrase(rng.randint(2, 6)).capitalize()}"
                parts.append(heading)
                size += len(heading) + 2
            paragraph = rng.choice(self.paragraphs)
            parts.append(paragraph)
            size += len(paragraph) + 2
        return "\n\n".join(parts)

    def title(self) -> str:
        words = self._phrase(self.rng.randint(5, 11))
        return f"{self.rng.choice(_NAMES)} {words}".capitalize()


def _stamp(value: datetime, seed_style: bool) -> str:
    """The seed's ``2026-06-30 12:22:18.483796+00:00``, or RFC 3339 with ``Z``."""
    if seed_style:
        return value.isoformat(sep=" ")
    return value.isoformat().replace("+00:00", "Z")


class _Topics:
    """Zipf-like (s = 1) draws of 1-4 distinct topics."""

    def __init__(self, rng: random.Random, names: list[str]) -> None:
        self.rng = rng
        self.names = names
        total = 0.0
        self.cum: list[float] = []
        for rank in range(len(names)):
            total += 1.0 / (rank + 1)
            self.cum.append(total)

    def one(self) -> str:
        x = self.rng.random() * self.cum[-1]
        return self.names[min(bisect.bisect_left(self.cum, x), len(self.names) - 1)]

    def draw(self) -> list[str]:
        want = self.rng.choice((1, 2, 2, 3, 3, 4))
        chosen: list[str] = []
        while len(chosen) < want:
            name = self.one()
            if name not in chosen:
                chosen.append(name)
        return chosen


def _record(
    i: int, text: _Text, topics: list[str], updated: datetime, published: datetime
) -> dict[str, Any]:
    rng = text.rng
    title = text.title()
    slug = f"{'-'.join(title.lower().split()[:6])}-{i:07d}"
    url = f"https://news.example.org/{updated:%Y/%m}/{slug}"
    return {
        "slug": slug,
        "title": title,
        "summary": " ".join(rng.choices(text.sentences, k=2)).replace("*", ""),
        "body_md": text.body(rng.randint(4096, 7168)),
        "url": url,
        "canonical_source": f"https://wire.example.com/story/{i}",
        "published_at": _stamp(published, i % 2 == 0),
        "updated_at": _stamp(updated, i % 2 == 0),
        "lang": "en",
        "topics": topics,
        "entities": rng.sample(_NAMES, rng.randint(1, 6)),
        "alternates": {"html": url, "markdown": f"{url}.md"},
    }


def generate(
    root: Path, size: int, seed: int = DEFAULT_SEED, files: int = FILES, topic_count: int = TOPICS
) -> Corpus:
    """Write a corpus of `size` records over `topic_count` topics under `root`
    (replacing what is there)."""
    if size < EDITS:
        raise ValueError(f"size must be at least {EDITS}")
    tmp = root.with_name(f".{root.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "records").mkdir(parents=True)
    rng = random.Random(seed)
    names = topic_names(rng, topic_count)
    text = _Text(rng)
    topics = _Topics(rng, names)
    # Which records the edits touch: half among the newest, half anywhere.
    pick = random.Random(seed + 1)
    recent = pick.sample(range(max(0, size - 1000), size), EDITS // 2)
    recent_set = set(recent)
    rest = [i for i in range(size) if i not in recent_set]
    edited = sorted({*recent, *pick.sample(rest, EDITS - len(recent))})
    edited_set = set(edited)
    originals: dict[int, tuple[str, list[str]]] = {}
    step = (END - START) / size
    per_file = -(-size // files)
    total_bytes = 0
    for f in range(files):
        lo, hi = f * per_file, min(size, (f + 1) * per_file)
        if lo >= hi:
            break
        with (tmp / "records" / f"part-{f:03d}.jsonl").open("wb") as out:
            for i in range(lo, hi):
                updated = START + step * i + step * rng.random() * 0.9
                # Milliseconds, like most real sources.
                updated = updated.replace(microsecond=updated.microsecond // 1000 * 1000)
                published = updated - timedelta(minutes=rng.randint(0, 6 * 60))
                if rng.random() < 0.1:
                    published -= timedelta(days=rng.randint(1, 30))
                record = _record(i, text, topics.draw(), updated, published)
                if i in edited_set:
                    originals[i] = (record["slug"], record["topics"])
                line = orjson.dumps(record) + b"\n"
                total_bytes += len(line)
                out.write(line)
    moved = _write_edits(tmp / "incremental.jsonl", rng, text, topics, edited, originals)
    manifest = {
        "version": CORPUS_VERSION,
        "size": size,
        "seed": seed,
        "topics": topic_count,
        "files": files,
        "bytes": total_bytes,
        "edits": EDITS,
        "edits_with_moved_topics": moved,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return Corpus(root, size, seed)


def _write_edits(
    path: Path,
    rng: random.Random,
    text: _Text,
    topics: _Topics,
    edited: list[int],
    originals: dict[int, tuple[str, list[str]]],
) -> int:
    """Rewrite each edited record: new title and body, newer time, some topics moved."""
    moved = 0
    with path.open("wb") as out:
        for n, i in enumerate(edited):
            updated = EDIT_START + timedelta(seconds=37 * n, microseconds=1000 * n)
            published = updated - timedelta(days=1)
            slug, old_topics = originals[i]
            new_topics = list(old_topics)
            if n % 3 == 0:  # a third of the edits move the article to another topic
                replacement = topics.one()
                if replacement not in new_topics:
                    new_topics[rng.randrange(len(new_topics))] = replacement
                    moved += 1
            record = _record(i, text, new_topics, updated, published)
            # The slug is the identity: keep the original one.
            record["slug"] = slug
            out.write(orjson.dumps(record) + b"\n")
    return moved


def ensure_corpus(
    base: Path, size: int, seed: int = DEFAULT_SEED, *, files: int = FILES, topics: int = TOPICS
) -> tuple[Corpus, bool]:
    """The cached corpus for (size, seed) under `base`, generated if missing; (corpus, made).
    Another file or topic count is another corpus, in a folder of its own."""
    shape = "" if (files, topics) == (FILES, TOPICS) else f"-f{files}-t{topics}"
    root = base / f"corpus-{size}-s{seed}{shape}-v{CORPUS_VERSION}"
    corpus = Corpus(root, size, seed)
    if (root / "manifest.json").is_file():
        return corpus, False
    root.parent.mkdir(parents=True, exist_ok=True)
    return generate(root, size, seed, files, topics), True


def main() -> int:
    """Generate a corpus from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=Path("bench/out/corpus"))
    args = parser.parse_args()
    corpus = generate(args.out, args.size, args.seed)
    sys.stdout.write(json.dumps(corpus.manifest(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
