"""Webhook entity and language filters end to end: a real poll (`syndicator once`),
the outbox fan-out, and deliveries to a real receiver on 127.0.0.1 (SPEC §6)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from syndicator.core.entities import suffixed_slug
from syndicator.core.signing import generate_secret
from tests.delivery.receiver import Receiver
from tests.deployment import Deployment
from tests.integration.test_webhooks import cli, deliveries

Make = Callable[..., dict[str, Any]]
ALL_EVENTS = ["article.created", "article.updated", "article.deleted"]


def add_endpoints(
    deployment: Deployment, receiver: Receiver, secret: str, endpoints: dict[str, dict[str, Any]]
) -> None:
    """One `[[webhooks]]` table per entry, each posting to `/<name>` of the receiver."""
    text = ""
    for name, filters in endpoints.items():
        lines = [
            "[[webhooks]]",
            f'name = "{name}"',
            f'url = "{receiver.url_for("/" + name)}"',
            f'secret = "{secret}"',
            "allow_private_network = true",
            f"events = {json.dumps(ALL_EVENTS)}",
        ]
        lines += [f"{key} = {json.dumps(value)}" for key, value in filters.items()]
        text += "\n" + "\n".join(lines) + "\n"
    with deployment.config.open("a", encoding="utf-8") as handle:
        handle.write(text)


def received(receiver: Receiver, secret: str) -> set[tuple[str, str, str]]:
    """(endpoint, event type, slug) of every verified request."""
    found = set()
    for request in receiver.requests:
        event = request.verify(secret)
        found.add((request.path.lstrip("/"), event["type"], event["data"]["slug"]))
    return found


def records(make_record: Make) -> list[dict[str, Any]]:
    return [
        make_record("nvidia-en", entities=["NVIDIA", "TSMC"], lang="en-GB", topics=["chips"]),
        make_record("nvidia-de", entities=["Nvidia"], lang="de", topics=["chips"]),
        make_record("siemens-de", entities=["Siemens"], lang="de-AT", topics=["industry"]),
        make_record("plain", entities=[], lang=None, topics=["chips"]),
    ]


ENDPOINTS: dict[str, dict[str, Any]] = {
    "nvidia": {"entities": ["nvidia"]},
    "german": {"lang": ["de"]},
    "nvidia-german": {"entities": ["NVIDIA"], "lang": ["de"]},
    "english": {"lang": ["en"]},
    "chips-nvidia": {"topics": ["chips"], "entities": ["Nvidia", "Intel"]},
    "everything": {},
}


def test_endpoints_get_only_the_articles_their_filters_select(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    secret = generate_secret()
    add_endpoints(deployment, receiver, secret, ENDPOINTS)
    deployment.write_jsonl("a.jsonl", records(make_record))
    done = cli(deployment, "once")
    assert done.returncode == 0, done.stderr
    created = "article.created"
    expected = {
        ("nvidia", created, "nvidia-en"),
        ("nvidia", created, "nvidia-de"),
        ("german", created, "nvidia-de"),
        ("german", created, "siemens-de"),
        ("nvidia-german", created, "nvidia-de"),
        ("english", created, "nvidia-en"),
        ("chips-nvidia", created, "nvidia-en"),
        ("chips-nvidia", created, "nvidia-de"),
        *(
            ("everything", created, slug)
            for slug in ("nvidia-en", "nvidia-de", "siemens-de", "plain")
        ),
    }
    # `once` exits after the deliveries it queued are done: nothing else comes.
    assert received(receiver, secret) == expected
    rows = deliveries(deployment)
    assert {(r["endpoint"], r["type"], r["slug"]) for r in rows} == expected
    assert {r["status"] for r in rows} == {"delivered"}


def test_updates_and_deletions_are_routed_by_what_the_article_is(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    secret = generate_secret()
    add_endpoints(deployment, receiver, secret, ENDPOINTS)
    deployment.write_jsonl("a.jsonl", records(make_record))
    assert cli(deployment, "once").returncode == 0
    before = received(receiver, secret)
    later = "2026-06-05T00:00:00Z"
    deployment.write_jsonl(
        "b.jsonl",
        [
            # An article that starts naming Nvidia, in German, is announced to the
            # entity and language endpoints from then on.
            make_record(
                "siemens-de", entities=["Siemens", "NVIDIA"], lang="de-AT", topics=["industry"],
                updated_at=later,
            ),
            # A deletion carries the entities and language the article had.
            {"slug": "nvidia-en", "deleted": True, "updated_at": later},
        ],
    )  # fmt: skip
    done = cli(deployment, "once")
    assert done.returncode == 0, done.stderr
    updated, deleted = "article.updated", "article.deleted"
    assert received(receiver, secret) - before == {
        ("nvidia", updated, "siemens-de"),
        ("german", updated, "siemens-de"),
        ("nvidia-german", updated, "siemens-de"),
        ("everything", updated, "siemens-de"),
        ("nvidia", deleted, "nvidia-en"),
        ("english", deleted, "nvidia-en"),
        ("chips-nvidia", deleted, "nvidia-en"),
        ("everything", deleted, "nvidia-en"),
    }


def test_replay_to_a_new_endpoint_applies_its_filters(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    secret = generate_secret()
    add_endpoints(deployment, receiver, secret, {"everything": {}})
    deployment.write_jsonl("a.jsonl", records(make_record))
    assert cli(deployment, "once").returncode == 0
    add_endpoints(deployment, receiver, secret, {"german": {"lang": ["DE"]}})
    done = cli(
        deployment,
        "deliveries",
        "replay",
        "--endpoint",
        "german",
        "--since",
        "2000-01-01T00:00:00Z",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert {(e, s) for e, _, s in received(receiver, secret) if e == "german"} == {
        ("german", "nvidia-de"),
        ("german", "siemens-de"),
    }


def test_a_slug_filter_means_the_entity_behind_that_feed(
    deployment: Deployment, receiver: Receiver, make_record: Make
) -> None:
    """`Société Générale` holds `societe-generale`; `Societe Generale` (another
    merge key) gets a suffixed slug. A filter naming a slug follows the feeds:
    each endpoint gets the articles of its feed's entity, not the other's."""
    secret = generate_secret()
    add_endpoints(deployment, receiver, secret, {"sg": {"entities": ["societe-generale"]}})
    deployment.write_jsonl(
        "a.jsonl", [make_record("accented", entities=["Société Générale"], topics=["banks"])]
    )
    assert cli(deployment, "once").returncode == 0
    deployment.write_jsonl(
        "b.jsonl",
        [
            make_record(
                "plain", entities=["Societe Generale"], updated_at="2026-06-02T10:00:00+00:00"
            )
        ],
    )
    assert cli(deployment, "once").returncode == 0
    suffixed = suffixed_slug("Societe Generale", 6)  # societe-generale-<hash>
    add_endpoints(deployment, receiver, secret, {"sg-other": {"entities": [suffixed]}})
    done = cli(
        deployment,
        "deliveries",
        "replay",
        "--endpoint",
        "sg-other",
        "--since",
        "2000-01-01T00:00:00Z",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert received(receiver, secret) == {
        ("sg", "article.created", "accented"),
        ("sg-other", "article.created", "plain"),
    }
