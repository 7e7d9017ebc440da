"""The facets benchmark's table: each figure beside its baseline and its target."""

from __future__ import annotations

from typing import Any

__all__ = ["table"]


def _row(name: str, ours: str, base: str, ratio: str, target: str, ok: bool | None) -> str:
    verdict = {True: "ok", False: "MISS", None: ""}[ok]
    return f"{name:40} {ours:>16} {base:>16} {ratio:>8}  {target:20} {verdict}"


def _lat(figures: dict[str, Any]) -> str:
    return f"{figures['p50_ms']:.0f}/{figures['p99_ms']:.0f} ms"


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def _poll_row(w: dict[str, Any], wo: dict[str, Any], ratio: float) -> str:
    # The poll alone (its own log line): facet indexing without the process's
    # fixed costs and the build, which facets do not change.
    return _row(
        "  of which the poll (s, its log line)",
        f"{w['poll_seconds']:.2f}",
        f"{wo['poll_seconds']:.2f}",
        f"{ratio:.2f}x",
        "",
        None,
    )


def _imports(results: dict[str, Any]) -> list[str]:
    rows: list[str] = []
    cold = results.get("cold")
    if cold:
        w, wo = cold["with"], cold["without"]
        rows.append(
            _row(
                "1 cold import, once (records/s)",
                f"{w['records_per_s']:,.0f}",
                f"{wo['records_per_s']:,.0f}",
                f"{cold['ratio']:.2f}x",
                "time within 15 %",
                cold["ratio"] <= 1.15,
            )
        )
        rows.append(
            _row("  wall time (s)", f"{w['seconds']:.1f}", f"{wo['seconds']:.1f}", "", "", None)
        )
        rows.append(_poll_row(w, wo, cold["poll_ratio"]))
        rows.append(
            _row(
                "  peak RSS, all processes",
                _mb(w["peak_rss_tree_mb"]),
                _mb(wo["peak_rss_tree_mb"]),
                "",
                "",
                None,
            )
        )
    inc = results.get("incremental")
    if inc:
        w, wo = inc["with"], inc["without"]
        rows.append(
            _row(
                "2 100-edit poll, once (s)",
                f"{w['seconds']:.2f}",
                f"{wo['seconds']:.2f}",
                f"{inc['ratio']:.2f}x",
                "within 15 %",
                inc["ratio"] <= 1.15,
            )
        )
        rows.append(_poll_row(w, wo, inc["poll_ratio"]))
        rows.append(
            _row(
                "  no-change once before it (s)",
                f"{w['noop_once_seconds']:.2f}",
                f"{wo['noop_once_seconds']:.2f}",
                "",
                "",
                None,
            )
        )
    return rows


def _daemon(results: dict[str, Any]) -> list[str]:
    rows: list[str] = []
    daemon, base = results.get("daemon"), results.get("baseline_daemon")
    if not daemon or not base:
        return rows
    start = daemon["start"]
    rows.append(
        _row(
            "3 start -> 200 /feeds/all.atom (s)",
            f"{start['all_atom_s']:.2f}",
            f"{base['start']['all_atom_s']:.2f}",
            "",
            "<= 5 s",
            start["all_atom_s"] <= 5,
        )
    )
    rows.append(
        _row(
            "  start -> 200 of an entity feed (s)",
            f"{start['entity_s']:.2f}",
            "-",
            "",
            "<= 5 s",
            start["entity_s"] <= 5,
        )
    )
    served, base_served = daemon["served"], base["served"]
    entities = served["entities"]
    rows.append(
        _row(
            f"4 first GET, {entities['count']} entity docs p50/p99",
            _lat(entities),
            "",
            "",
            "p99 <= 100 ms",
            entities["p99_ms"] <= 100,
        )
    )
    rows.append(
        _row(
            f"  first GET, {served['topics']['count']} topic docs p50/p99",
            _lat(served["topics"]),
            _lat(base_served["topics"]),
            "",
            "",
            None,
        )
    )
    rows.append(_row("  first GET, lang docs p50/p99", _lat(served["lang"]), "", "", "", None))
    opml = daemon.get("entities_opml_status")
    if opml is not None:
        rows.append(
            _row("  GET /feeds/entities.opml (status)", str(opml), "", "", "200", opml == 200)
        )
    rows.append(
        _row(
            "  RSS after serving, all processes",
            _mb(served["rss_mb"]),
            _mb(base_served["rss_mb"]),
            "",
            "<= 400 MB",
            served["rss_mb"] <= 400,
        )
    )
    rebuild = daemon["rebuild"]
    after = daemon["served_after_rebuild"]
    rows.append(
        _row(
            "5 full rebuild: restart -> built (s)",
            f"{rebuild['seconds_from_start']:.1f}",
            "",
            "",
            "",
            None,
        )
    )
    rows.append(_row("  peak RSS during rebuild", _mb(rebuild["peak_rss_mb"]), "", "", "", None))
    rows.append(_row("  entity docs again p50/p99", _lat(after["entities"]), "", "", "", None))
    rows.append(
        _row(
            "  RSS after serving again",
            _mb(after["rss_mb"]),
            "",
            "",
            "<= 400 MB",
            after["rss_mb"] <= 400,
        )
    )
    return rows


def _fresh_http_disk(results: dict[str, Any]) -> list[str]:
    rows: list[str] = []
    daemon = results.get("daemon") or {}
    fresh = daemon.get("fresh")
    if fresh:
        write, commit = fresh["from_write"], fresh["from_poll_log_line"]
        rows.append(
            _row(
                f"6 edit -> entity feed, p50/max of {write['count']}",
                f"{write['p50_ms']:.0f}/{write['max_ms']:.0f} ms",
                "",
                "",
                "from the write",
                None,
            )
        )
        rows.append(
            _row(
                "  from the 'poll ok' log line, p50/max",
                f"{commit['p50_ms']:.0f}/{commit['max_ms']:.0f} ms",
                "",
                "",
                "<= 1000 ms",
                commit["max_ms"] <= 1000,
            )
        )
    http = daemon.get("http")
    if http and "skipped" in http:
        rows.append(_row("7 HTTP, one entity feed", "skipped", "", "", http["skipped"], None))
    elif http:
        for scenario in ("200", "304"):
            ours, nginx = http[f"{scenario} syndicator"], http[f"{scenario} nginx"]
            ratio = http[f"{scenario} ratio"] or 0.0
            rows.append(
                _row(
                    f"{'7' if scenario == '200' else ' '} HTTP {scenario}, one entity feed",
                    f"{ours['rps']:,.0f}/s",
                    f"{nginx['rps']:,.0f}/s nginx",
                    f"{ratio:.0%}",
                    ">= 35% of nginx",
                    ratio >= 0.35,
                )
            )
    disk = results.get("disk")
    if disk:
        w, wo = disk["with"], disk["without"]
        ratio = w["bytes"] / wo["bytes"] if wo["bytes"] else 0.0
        rows.append(
            _row(
                "8 feeds.output_dir (MB / files)",
                f"{w['bytes'] / 2**20:,.1f} / {w['files']:,}",
                f"{wo['bytes'] / 2**20:,.1f} / {wo['files']:,}",
                f"{ratio:.2f}x",
                "no entity files",
                # Entries carry entity categories, so bytes grow with the entries'
                # content; what must not grow is one file per entity feed.
                w["files"] <= wo["files"],
            )
        )
    return rows


def table(results: dict[str, Any]) -> list[str]:
    """The rows of the printed table (also kept in the results file)."""
    corpus = results.get("corpus", {})
    daemon = results.get("daemon") or {}
    head = (
        f"facets: {corpus.get('size', 0):,} records, "
        f"{daemon.get('entity_feeds', 0):,} entity feeds, {daemon.get('lang_feeds', 0)} languages"
    )
    rows = [
        head,
        _row("figure", "with facets", "without", "ratio", "target", None),
        "-" * 110,
    ]
    return rows + _imports(results) + _daemon(results) + _fresh_http_disk(results)
