"""atheris target: bytes → JSON (the sources' decoder) → `parse_record`.

Allowed outcomes: `ValueError` from decoding (invalid JSON or UTF-8, nesting too
deep) and `RecordInvalid` from validation. Anything else - or an accepted record
that the store could not encode - is a crash. Run through ``make fuzz``:

    .venv/bin/python fuzz/fuzz_records.py -max_total_time=60 fuzz/corpus/records
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped]  # no stubs; only make fuzz uses it

with atheris.instrument_imports():
    import orjson

    from syndicator.core.article import article_to_dict, content_hash
    from syndicator.core.events import event_payload
    from syndicator.core.records import parse_record
    from syndicator.errors import RecordInvalid
    from syndicator.models import ChangeKind
    from syndicator.sources.decode import loads


def test_one_input(data: bytes) -> None:
    """One fuzz case."""
    try:
        value = loads(data)
    except ValueError:
        return  # not JSON: the folder source quarantines the line
    try:
        article = parse_record(value)
    except RecordInvalid:
        return
    # Accepted records are hashed, stored and announced with orjson; a record
    # it cannot encode would fail the whole poll (see tests/hardening/test_regressions.py).
    orjson.dumps(article_to_dict(article))
    content_hash(article)
    orjson.dumps(event_payload(ChangeKind.CREATED, article, "http://127.0.0.1:8080"))


def main() -> None:
    """Entry point for ``make fuzz``."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
