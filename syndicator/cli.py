"""The command line (SPEC §8): ``syndicator [--config PATH] COMMAND``.

Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syndicator import __version__
from syndicator.core.since import SINCE_FORMS, parse_since
from syndicator.errors import ConfigError, SourceUnavailable, SyndicatorError
from syndicator.models import DELIVERY_STATUSES

if TYPE_CHECKING:
    from syndicator.build.result import BuildResult
    from syndicator.config import Settings
    from syndicator.store import Store
    from syndicator.store.polls import PollRecord

# Each command imports what it uses when it runs: `--version`, `--help` and a
# usage error answer without loading pydantic, SQLAlchemy, httpx or feedgen.

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
    poll = commands.add_parser("poll", help="ask the running daemon(s) to poll now")
    poll.add_argument(
        "--wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="wait this long for a daemon's poll and print its outcome (0: do not wait)",
    )
    status = commands.add_parser("status", help="watermark, counts, last poll, quarantine")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    backup = commands.add_parser(
        "backup", help="copy the SQLite database to PATH while it is in use (PostgreSQL: pg_dump)"
    )
    backup.add_argument("path", type=Path, metavar="PATH", help="the copy to write")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")

    export = commands.add_parser(
        "export", help="build, and write every feed to feeds.output_dir (a static copy)"
    )
    export.add_argument(
        "--facets",
        action="store_true",
        help="also write every entity, language and custom feed (rendered on demand otherwise)",
    )

    deliveries = commands.add_parser("deliveries", help="list and re-send webhook deliveries")
    dcmd = deliveries.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = dcmd.add_parser(
        "list", help="deliveries, newest first: times, attempts and the last error"
    )
    listing.add_argument("--status", choices=DELIVERY_STATUSES)
    listing.add_argument("--endpoint", metavar="NAME", help="only this endpoint's deliveries")
    listing.add_argument("--since", type=_since, metavar="TIME", help=f"created since {_SINCE}")
    listing.add_argument("--json", action="store_true", help="print a JSON list, every field")
    listing.add_argument("--limit", type=int, default=None, help="at most N, newest first")
    retry = dcmd.add_parser("retry", help="re-send deliveries now (same webhook-id)")
    retry.add_argument("ids", nargs="+", type=int, metavar="ID")
    replay = dcmd.add_parser("replay", help="re-send an endpoint's events since a time")
    replay.add_argument("--endpoint", required=True, metavar="NAME")
    replay.add_argument("--since", required=True, type=_since, metavar="TIME", help=_SINCE)

    webhooks = commands.add_parser("webhooks", help="test and manage webhook endpoints")
    wcmd = webhooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    wcmd.add_parser("test", help="send a signed webhook.test event now").add_argument("name")
    wcmd.add_parser("resume", help="lift an endpoint's pause").add_argument("name")
    _add_articles_parser(commands)
    _add_websub_parser(commands)
    return parser


def _add_articles_parser(commands: Any) -> None:
    """The `articles` command and its actions."""
    articles = commands.add_parser("articles", help="show what is known of an article; take down")
    acmd = articles.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = acmd.add_parser("show", help="an article's versions, feeds, events and deliveries")
    show.add_argument("slug")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    remove = acmd.add_parser("remove", help="take articles down now (article.deleted)")
    remove.add_argument("slugs", nargs="+", metavar="SLUG")
    remove.add_argument("--reason", default=None, help="why (stored and shown)")


def _add_websub_parser(commands: Any) -> None:
    """Add ``websub list [--json]`` and ``websub drop ID|--callback URL`` to the CLI."""
    websub = commands.add_parser("websub", help="list and drop WebSub subscriptions")
    actions = websub.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="subscriptions and pending verifications")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    drop = actions.add_parser("drop", help="remove a subscription (no further pushes)")
    which = drop.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", type=int, help="subscription id")
    which.add_argument("--callback", help="every subscription of this callback URL")


_SINCE = SINCE_FORMS


def _since(value: str) -> datetime:
    """An RFC 3339 time, or that long before now."""
    try:
        return parse_since(value, datetime.now(UTC))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _print(text: str) -> None:
    sys.stdout.write(text + "\n")


def _error(text: str) -> None:
    sys.stderr.write(f"syndicator: {text}\n")


def _console_warnings(settings: Settings) -> list[str]:
    """What check-config says of `[console]`: a token_env naming nothing, a short token."""
    from syndicator.config import console_token

    var = settings.console.token_env
    if var is None:
        return []
    token = console_token(settings.console)
    if token is None:
        return [
            f"console.token_env: environment variable {var} is unset or empty; "
            "the console at /console/ is off"
        ]
    if len(token) < 16:
        return [
            f"console.token_env: the token in {var} is short ({len(token)} characters); "
            "use at least 16 random characters"
        ]
    return []


def _check_config(settings: Settings, path: str) -> int:
    """Validate what loading cannot: the source folder exists, the output folder
    can, the page templates compile; warn of refused endpoints."""
    from syndicator.delivery.preflight import private_network_warnings
    from syndicator.render.index import SiteTemplates

    folder = settings.source.path
    if settings.source.kind == "dir" and not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        relative = "" if folder.is_absolute() else f" (relative to {Path.cwd()})"
        _error(f"{path}: source.path: the folder {folder} {what}{relative}")
        return EXIT_USAGE
    blocked = _not_a_folder(settings.feeds.output_dir)
    if blocked is not None:
        _error(
            f"{path}: feeds.output_dir: {blocked} is not a folder, so "
            f"{settings.feeds.output_dir} cannot hold the feeds"
        )
        return EXIT_USAGE
    try:
        SiteTemplates(settings.site.template_dir)
    except ConfigError as exc:
        _error(f"{path}: {exc}")
        return EXIT_USAGE
    for warning in private_network_warnings(settings.webhooks, settings.delivery):
        sys.stderr.write(f"warning: {warning}\n")
    for warning in _console_warnings(settings):
        sys.stderr.write(f"warning: {warning}\n")
    _print(f"{path}: ok")
    _print(f"  source: {settings.source.kind} {settings.source.url or settings.source.path}")
    missing = _missing_database(settings)
    created = f" (does not exist yet: {missing} is created by the first run)" if missing else ""
    _print(f"  database: {settings.database.url.split('@')[-1]}{created}")
    _print(f"  feeds: {settings.feeds.output_dir} (max {settings.feeds.max_entries} entries)")
    _print(f"  webhooks: {', '.join(h.name for h in settings.webhooks) or 'none'}")
    return EXIT_OK


def _not_a_folder(folder: Path) -> Path | None:
    """The path at or above `folder` that exists but is not a folder (so the
    folder cannot be made there), else None."""
    for candidate in (folder, *folder.absolute().parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


#: Commands that read or act on what is stored: on an SQLite file that does
#: not exist they would create an empty database (a mistyped `database.url`)
#: and report on nothing.
_NEEDS_DATABASE = frozenset(("status", "deliveries", "articles", "websub"))


def _missing_database(settings: Settings) -> str | None:
    """The SQLite file of `database.url` when it does not exist, else None.

    Read as SQLAlchemy reads the URL (``sqlite:///relative``,
    ``sqlite:////absolute``, a query after ``?``), without importing it:
    `check-config` opens no database and loads no SQLAlchemy."""
    url = settings.database.url
    if not url.startswith("sqlite") or "://" not in url:
        return None
    path = url.split("://", 1)[1].removeprefix("/").split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return path if not Path(path).exists() else None


def _once(settings: Settings) -> int:
    from syndicator.build.export import refresh_export
    from syndicator.coordination import for_store, process_identity
    from syndicator.delivery.commands import deliver_pending
    from syndicator.progress import terminal_progress
    from syndicator.wiring import make_builder, make_poller, make_workers, open_store, utc_now

    store = open_store(settings)
    # A large poll's validation workers render the build after it.
    workers = make_workers(settings)
    try:
        poller = make_poller(settings, store, terminal_progress(), workers)
        builder = make_builder(settings, store, workers)
        # Running `run` processes serve this build too: on SQLite they read
        # what it recorded; on PostgreSQL it is shared as a builder shares.
        coordination = for_store(
            store, process_identity(), clock=utc_now, load_published=builder.load_published
        )
        keep = coordination.shares_documents

        def build() -> BuildResult | None:
            """Build and publish; None (said on stderr) when the build failed.
            The dirty feeds stay queued for the next build."""
            try:
                result = builder.build(keep_documents=keep)
            except (SyndicatorError, OSError) as exc:
                _error(f"build failed: {exc}")
                return None
            coordination.share(result.documents)
            return result

        try:
            changes = poller.poll()
        except SourceUnavailable as exc:
            _error(f"poll failed: {exc}")
            build()  # still publish
            deliver_pending(settings, store, utc_now)  # and send what was already queued
            return EXIT_FAILURE
        finally:
            poller.close()
        # The events are committed with the poll: they go out whatever the build does.
        result = build()
        if result is not None:
            refresh_export(settings, store, builder, utc_now, result)
        sent = deliver_pending(settings, store, utc_now)
        # An embargo that ended while delivering was announced: publish it too.
        if result is not None and build() is None:
            result = None
        built = (
            "build failed"
            if result is None
            else f"build: {len(result.topics)} topics rendered, {result.written} files written "
            f"to {settings.feeds.output_dir}"
        )
        _print(
            f"poll: {changes.created} created, {changes.updated} updated, "
            f"{changes.deleted} deleted, {changes.ignored} ignored, "
            f"{changes.quarantined} quarantined; {built}; {sent} deliveries attempted"
        )
        return EXIT_OK if result is not None else EXIT_FAILURE
    finally:
        workers.close()
        store.close()


def _poll_now(settings: Settings, wait: float) -> int:
    """Ask the daemons through the store (so it reaches every process), then
    wait for a poll that started after the request, and for its build."""
    from syndicator.wiring import open_store, utc_now

    store = open_store(settings)
    try:
        asked = utc_now()
        store.polls.request_poll(asked)
        deadline = time.monotonic() + max(wait, 0.0)
        while time.monotonic() < deadline:
            done = [p for p in store.polls.recent_polls(3) if p.started_at >= asked]
            if done and not _served(store, done[-1]):
                done = []  # polled; readers see it once its build is served
            if done:
                poll = done[-1]
                if poll.outcome != "ok":
                    _error(f"poll failed: {poll.error}")
                    return EXIT_FAILURE
                c = poll.counts
                _print(
                    f"poll: {c['created']} created, {c['updated']} updated, "
                    f"{c.get('deleted', 0)} deleted, {c['ignored']} ignored, "
                    f"{c['quarantined']} quarantined"
                )
                return EXIT_OK
            time.sleep(0.1)
    finally:
        store.close()
    if wait <= 0:
        _print("poll requested")
        return EXIT_OK
    _error(
        f"poll requested, but no daemon polled within {wait:g} s; "
        "is `syndicator run` running on this database? The request stays for its next start."
    )
    return EXIT_FAILURE


def _served(store: Store, poll: PollRecord) -> bool:
    """Whether what `poll` changed is served (a failed or empty poll: at once)."""
    from syndicator.core.times import db_time
    from syndicator.store.polls import SERVED_KEY

    counts = poll.counts
    if poll.outcome != "ok" or not any(counts.get(k) for k in ("created", "updated", "deleted")):
        return True
    served = store.polls.get_meta(SERVED_KEY)
    return served is not None and served >= db_time(poll.finished_at)


def _status(settings: Settings, as_json: bool) -> int:
    from syndicator.status import collect_status, format_status
    from syndicator.wiring import open_store

    store = open_store(settings)
    try:
        report: dict[str, Any] = collect_status(settings, store)
    finally:
        store.close()
    _print(json.dumps(report, indent=2) if as_json else format_status(report))
    return EXIT_OK


def _backup(settings: Settings, target: Path, force: bool) -> int:
    from syndicator.store.backup import BackupRefused, backup_sqlite
    from syndicator.store.database import sqlite_path

    url = settings.database.url
    if not url.startswith("sqlite:"):
        _error(
            "backup copies SQLite databases; database.url is PostgreSQL: use pg_dump "
            "(e.g. pg_dump --format=custom --file=syndicator.dump DBNAME)"
        )
        return EXIT_USAGE
    source = sqlite_path(url)
    if source is None:
        _error("backup: database.url is an in-memory database; there is nothing to copy")
        return EXIT_USAGE
    try:
        size = backup_sqlite(source, target, replace=force)
    except BackupRefused as exc:
        _error(f"backup: {exc}")
        return EXIT_USAGE
    _print(f"{source} copied to {target} ({size} bytes)")
    return EXIT_OK


def _export(settings: Settings, facets: bool) -> int:
    from syndicator.build.export import export_facets
    from syndicator.wiring import make_builder, open_store, utc_now

    store = open_store(settings)
    try:
        builder = make_builder(settings, store)
        result = builder.build(keep_documents=False)
        line = f"export: {result.written} topic files written"
        if facets:
            written = export_facets(settings, store, builder, utc_now)
            line += f", {written} facet and entity directory files written"
        _print(f"{line} to {settings.feeds.output_dir}")
        return 0
    finally:
        store.close()


def _needs_secrets(args: argparse.Namespace) -> bool:
    """Read-only commands work in a shell that lacks the service's secrets."""
    if args.command in ("status", "poll", "backup", "export"):
        return False
    if args.command == "deliveries" and args.action == "list":
        return False
    if args.command == "articles" and args.action == "show":
        return False
    return not (args.command == "webhooks" and args.action == "resume")


def console_main() -> int:
    """The installed ``syndicator`` command and ``python -m syndicator``: `main`,
    then an exit that skips the interpreter's last garbage collection.

    That collection walks every object the libraries made, to free memory the
    exiting process gives back anyway: about 0.1 s of every command (most of
    it SQLAlchemy's). Exit handlers, logging's flush and module teardown still
    run. Not in `main`, which tests call many times in one process.
    """
    code = main()
    gc.freeze()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``syndicator`` command."""
    args = _parser().parse_args(argv)
    from syndicator.config import load_settings, resolve_config_path
    from syndicator.logs import configure_logging

    try:
        settings = load_settings(args.config, require_secrets=_needs_secrets(args))
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    configure_logging(settings.log.level, settings.log.format)
    if args.command in _NEEDS_DATABASE:
        missing = _missing_database(settings)
        if missing is not None:
            _error(
                f"database.url: {missing} does not exist; `syndicator run` or `once` "
                "creates it (is the path right?)"
            )
            return EXIT_FAILURE
    try:
        if args.command == "check-config":
            return _check_config(settings, str(resolve_config_path(args.config, os.environ)))
        if args.command == "once":
            return _once(settings)
        if args.command == "status":
            return _status(settings, args.json)
        if args.command == "poll":
            return _poll_now(settings, args.wait)
        if args.command == "backup":
            return _backup(settings, args.path, args.force)
        if args.command == "export":
            return _export(settings, args.facets)
        if args.command == "deliveries":
            from syndicator.delivery.commands import deliveries_command

            return deliveries_command(settings, args, _print)
        if args.command == "webhooks":
            from syndicator.delivery.commands import webhooks_command

            return webhooks_command(settings, args, _print)
        if args.command == "articles":
            from syndicator.takedown import articles_command

            return articles_command(settings, args, _print, _error)
        if args.command == "websub":
            from syndicator.websub.commands import websub_command

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
