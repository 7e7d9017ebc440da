"""The command line (SPEC §8): ``syndicator [--config PATH] COMMAND``.

Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from syndicator import __version__
from syndicator.config import Settings, load_settings, resolve_config_path
from syndicator.coordination import for_store, process_identity
from syndicator.core.records import parse_datetime
from syndicator.delivery.commands import deliver_pending, deliveries_command, webhooks_command
from syndicator.errors import ConfigError, SourceUnavailable, SyndicatorError
from syndicator.logs import configure_logging
from syndicator.progress import terminal_progress
from syndicator.status import collect_status, format_status
from syndicator.store.outbox import STATUSES
from syndicator.websub.commands import add_websub_parser, websub_command
from syndicator.wiring import make_builder, make_poller, open_store, utc_now

__all__ = ["main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syndicator", description="Feed syndication daemon: RSS, Atom, JSON Feed, webhooks."
    )
    parser.add_argument("--version", action="version", version=f"syndicator {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML config file (default: $SYNDICATOR_CONFIG or config/syndicator.toml)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="run the daemon: polls, builds, deliveries and HTTP server")
    commands.add_parser("once", help="one poll, build and delivery pass, then exit")
    commands.add_parser("check-config", help="validate the configuration and exit")
    status = commands.add_parser("status", help="watermark, counts, last poll, quarantine")
    status.add_argument("--json", action="store_true", help="print one JSON object")

    deliveries = commands.add_parser("deliveries", help="list and re-send webhook deliveries")
    dcmd = deliveries.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = dcmd.add_parser("list", help="deliveries, newest first")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--limit", type=int, default=None, help="at most N, newest first")
    retry = dcmd.add_parser("retry", help="re-send deliveries now (same webhook-id)")
    retry.add_argument("ids", nargs="+", type=int, metavar="ID")
    replay = dcmd.add_parser("replay", help="re-send an endpoint's events since a time")
    replay.add_argument("--endpoint", required=True)
    replay.add_argument("--since", required=True, type=_timestamp, help="RFC 3339 time")

    webhooks = commands.add_parser("webhooks", help="test and manage webhook endpoints")
    wcmd = webhooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    wcmd.add_parser("test", help="send a signed webhook.test event now").add_argument("name")
    wcmd.add_parser("resume", help="lift an endpoint's pause").add_argument("name")
    add_websub_parser(commands)
    return parser


def _timestamp(value: str) -> datetime:
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _print(text: str) -> None:
    sys.stdout.write(text + "\n")


def _error(text: str) -> None:
    sys.stderr.write(f"syndicator: {text}\n")


def _check_config(settings: Settings, path: str) -> int:
    _print(f"{path}: ok")
    _print(f"  source: {settings.source.kind} {settings.source.url or settings.source.path}")
    _print(f"  database: {settings.database.url.split('@')[-1]}")
    _print(f"  feeds: {settings.feeds.output_dir} (max {settings.feeds.max_entries} entries)")
    _print(f"  webhooks: {', '.join(h.name for h in settings.webhooks) or 'none'}")
    return EXIT_OK


def _once(settings: Settings) -> int:
    store = open_store(settings)
    try:
        poller = make_poller(settings, store, terminal_progress())
        builder = make_builder(settings, store)
        # Running `run` processes serve this build too: on SQLite they read
        # what it recorded; on PostgreSQL it is shared as a builder shares.
        coordination = for_store(
            store, process_identity(), clock=utc_now, load_published=builder.load_published
        )
        keep = coordination.shares_documents
        try:
            changes = poller.poll()
        except SourceUnavailable as exc:
            _error(f"poll failed: {exc}")
            coordination.share(builder.build(keep_documents=keep).documents)  # still publish
            deliver_pending(settings, store, utc_now)  # and send what was already queued
            return EXIT_FAILURE
        result = builder.build(keep_documents=keep)
        coordination.share(result.documents)
        sent = deliver_pending(settings, store, utc_now)
        _print(
            f"poll: {changes.created} created, {changes.updated} updated, "
            f"{changes.ignored} ignored, {changes.quarantined} quarantined; "
            f"build: {len(result.topics)} topics rendered, {result.written} files written "
            f"to {settings.feeds.output_dir}; {sent} deliveries attempted"
        )
        return EXIT_OK
    finally:
        store.close()


def _status(settings: Settings, as_json: bool) -> int:
    store = open_store(settings)
    try:
        report: dict[str, Any] = collect_status(settings, store)
    finally:
        store.close()
    _print(json.dumps(report, indent=2) if as_json else format_status(report))
    return EXIT_OK


def _needs_secrets(args: argparse.Namespace) -> bool:
    """Read-only commands work in a shell that lacks the service's secrets."""
    if args.command == "status":
        return False
    if args.command == "deliveries" and args.action == "list":
        return False
    return not (args.command == "webhooks" and args.action == "resume")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``syndicator`` command."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config, require_secrets=_needs_secrets(args))
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    configure_logging(settings.log.level, settings.log.format)
    try:
        if args.command == "check-config":
            return _check_config(settings, str(resolve_config_path(args.config, os.environ)))
        if args.command == "once":
            return _once(settings)
        if args.command == "status":
            return _status(settings, args.json)
        if args.command == "deliveries":
            return deliveries_command(settings, args, _print)
        if args.command == "webhooks":
            return webhooks_command(settings, args, _print)
        if args.command == "websub":
            return websub_command(settings, args, _print)
        if args.command == "run":
            from syndicator.daemon import run_daemon

            return run_daemon(settings)
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except SyndicatorError as exc:
        _error(str(exc))
        return EXIT_FAILURE
    _error(f"unknown command {args.command!r}")
    return EXIT_USAGE
