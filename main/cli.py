"""The `goldsplit` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from urllib.parse import urlparse

from api.auth import TOKEN_ROLES, issue_token
from domain.application import Actor
from domain.exceptions import DomainError
from main.services import Services
from main.settings import DEV_SECRET, Settings, SettingsError
from storage.database import ledger_exists

LOOPBACK = ("127.0.0.1", "localhost", "::1")
SIGNIN_LINK_SECONDS = 15 * 60
CONSOLE = Actor("console", "auditor")  # who reads at the console: everything, as an auditor, changing nothing


def _masked(url: str) -> str:
    """The database URL with its password replaced by ***, fit to print."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    user, _, host = parsed.netloc.rpartition("@")
    return parsed._replace(netloc=f"{user.partition(':')[0]}:***@{host}").geturl()


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from main.serve import process

    host = args.host or settings.host
    if settings.secret == DEV_SECRET and host not in LOOPBACK:
        print(f"refusing to serve on {host} with the development secret: anyone could sign "
              "tokens; set GOLDSPLIT_SECRET", file=sys.stderr)
        return 2
    uvicorn.run(process(settings, build=lambda: Services.build(settings)), host=host,
                port=args.port or settings.port, log_level="info", access_log=settings.access_log,
                timeout_graceful_shutdown=5)  # open event streams end at shutdown
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    print(issue_token(settings.secret, args.member, args.role,
                      args.ttl or settings.token_ttl_seconds))
    return 0


def _signin_link(args: argparse.Namespace, settings: Settings) -> int:
    from main.serve import signin_url

    with Services.build(settings) as services:
        services.app.member(args.member)  # a member the ledger knows, or a refusal naming them
        print(signin_url(settings, services.sessions.issue_code(args.member, args.role, args.ttl)))
    return 0


def _rebuild(args: argparse.Namespace, settings: Settings) -> int:
    with Services.build(settings) as services:
        started = time.monotonic()
        position = services.runner.rebuild()
        names = ", ".join(p.name for p in services.runner.projections)
        print(f"rebuilt {names} up to position {position} in {time.monotonic() - started:.2f} s")
    return 0


def _project(args: argparse.Namespace, settings: Settings) -> int:
    from main.processes import project
    from projections.runner import default_projections

    known = [p.name for p in default_projections()]
    only = [name.strip() for name in (args.only or "").split(",") if name.strip()]
    unknown = sorted(set(only) - set(known))
    if unknown:
        print(f"goldsplit: --only: {', '.join(unknown)} is not a read model; they are {', '.join(known)}",
              file=sys.stderr)
        return 2
    return project(settings, only)


def _relay(args: argparse.Namespace, settings: Settings) -> int:
    from main.processes import relay

    return relay(settings)


def _consume(args: argparse.Namespace, settings: Settings) -> int:
    from main.processes import consume

    return consume(settings)


def _explain(args: argparse.Namespace, settings: Settings) -> int:
    with Services.build(settings) as services:
        services.runner.catch_up()
        allocations = services.queries.allocations
        members = [args.member] if args.member else [
            line.member_id for line in allocations.get(CONSOLE, args.allocation_id).lines]
        print(json.dumps([allocations.explain(CONSOLE, args.allocation_id, m).model_dump()
                          for m in members], indent=2))
    return 0


def _policy_show(args: argparse.Namespace, settings: Settings) -> int:
    with Services.build(settings) as services:
        print(json.dumps([p.as_dict() for p in services.app.policies(args.kind)], indent=2))
    return 0


def _policy_add(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with open(args.file, encoding="utf-8") as file:
            document = json.load(file)
    except (OSError, ValueError) as unreadable:
        print(f"goldsplit: cannot read {args.file}: {unreadable}", file=sys.stderr)
        return 1
    with Services.build(settings) as services:
        added = services.app.add_policy(Actor(args.by, "finance"), args.kind, document)
        print(f"{args.kind} version {added.version} {added.hash} at position "
              f"{added.position}" + (f"; {added.regraded} accounts regraded"
                                     if added.regraded is not None else ""))
    return 0


def _regrade(args: argparse.Namespace, settings: Settings) -> int:
    with Services.build(settings) as services:
        accounts = services.app.regrade_accounts(Actor(args.by, "admin"))
        opportunities = services.app.regrade_opportunities(Actor(args.by, "admin"))
        print(f"{accounts.regraded} accounts and {opportunities.regraded} open "
              f"opportunities regraded, log position {max(accounts.position, opportunities.position)}")
    return 0


def _calibration(args: argparse.Namespace, settings: Settings) -> int:
    with Services.build(settings) as services:
        services.runner.catch_up()
        print(json.dumps(services.queries.calibration.by(CONSOLE, args.by).model_dump(by_alias=True),
                         indent=2))
    return 0


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from projections.runner import ProjectionStalled

    with Services.build(settings) as services:
        try:
            services.runner.catch_up()
        except ProjectionStalled as stall:  # verify what was chained before it
            print(f"goldsplit: {stall}", file=sys.stderr)
        result = services.queries.audit.verify(CONSOLE)
        print(json.dumps(result.model_dump(), indent=2))
    return 0 if result.ok else 3


def _period_close(args: argparse.Namespace, settings: Settings) -> int:
    from books.close import CloseRefused, close
    def progress(position: int, cutoff: int) -> None:
        done = position / cutoff if cutoff else 1.0
        bar = "#" * int(done * 30)
        print(f"\rreplaying [{bar:<30}] {done:6.1%} {position}/{cutoff} events", end="",
              file=sys.stderr, flush=True)

    with Services.build(settings) as services:
        try:
            report = close(services.app, services.views, Actor(args.by, "finance"), args.period,
                           catch_up=lambda position: services.runner.wait_for(position, timeout=600),
                           progress=progress)
        except CloseRefused as refused:
            print(f"\ngoldsplit: {refused.detail}", file=sys.stderr)
            print(json.dumps(refused.differences, indent=2))
            return 4
        print(file=sys.stderr)
        print(json.dumps(report, indent=2))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from main.demo import run

    return run(keep=args.keep, serve=not args.no_serve, settings=settings)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="goldsplit", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="play the whole story on a throwaway embedded store")
    demo.add_argument("--keep", metavar="DIR", help="keep the store in DIR instead of a temp dir")
    demo.add_argument("--no-serve", action="store_true", help="stop after the story instead of "
                                                                "serving the web app on its store")
    demo.set_defaults(run=_demo)

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="bearer tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    issue = token_commands.add_parser("issue", help="print a signed token")
    issue.add_argument("--member", required=True)
    issue.add_argument("--role", required=True, choices=TOKEN_ROLES)
    issue.add_argument("--ttl", type=int, help="seconds until it expires")
    issue.set_defaults(run=_token)

    link = commands.add_parser("signin-link", help="print a one-time link that signs a member in "
                                                   "to the web app")
    link.add_argument("--member", required=True)
    link.add_argument("--role", required=True, choices=TOKEN_ROLES)
    link.add_argument("--ttl", type=int, default=SIGNIN_LINK_SECONDS,
                      help=f"seconds the link stays valid (default {SIGNIN_LINK_SECONDS})")
    link.set_defaults(run=_signin_link)

    rebuild = commands.add_parser("rebuild", help="drop the read models and replay the log from 1")
    rebuild.set_defaults(run=_rebuild)

    project = commands.add_parser("project", help="run the projections as a process")
    project.add_argument("--only", metavar="NAMES", help="only these read models, comma-separated "
                                                         "(one process per read model scales them out)")
    project.set_defaults(run=_project)

    relay = commands.add_parser("relay", help="publish every event of the log to Kafka "
                                              "(goldsplit.events.v1), at least once, in log order")
    relay.set_defaults(run=_relay)

    consume = commands.add_parser("consume", help="turn the inbound Kafka topics (contributions, "
                                                  "payments, opportunities) into commands")
    consume.set_defaults(run=_consume)

    explain = commands.add_parser("explain", help="show how an allocation's lines were computed")
    explain.add_argument("allocation_id")
    explain.add_argument("--member")
    explain.set_defaults(run=_explain, reads=True)

    from domain.aggregates import POLICY_KINDS

    period = commands.add_parser("period", help="periods of payable entries")
    period_commands = period.add_subparsers(dest="period_command", required=True)
    close = period_commands.add_parser("close", help="replay the log, prove the period's numbers and "
                                                     "lock it (as finance)")
    close.add_argument("period", help="a month (2026-11) or a quarter (2026-Q4)")
    close.add_argument("--by", required=True, help="the finance member closing it")
    close.set_defaults(run=_period_close)

    kinds = tuple(POLICY_KINDS)
    policy = commands.add_parser("policy", help="show or add policy versions")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    show = policy_commands.add_parser("show", help="print every version of a kind, oldest first")
    show.add_argument("kind", choices=kinds)
    show.set_defaults(run=_policy_show, reads=True)
    add = policy_commands.add_parser("add", help="add a version from a JSON document (as finance)")
    add.add_argument("kind", choices=kinds)
    add.add_argument("file", help="the policy document (JSON)")
    add.add_argument("--by", required=True, help="the finance member adding it")
    add.set_defaults(run=_policy_add)

    regrade = commands.add_parser("regrade", help="grade every account and open opportunity by the "
                                                  "grading policies in force today")
    regrade.add_argument("--by", required=True, help="who asks (recorded on the events)")
    regrade.set_defaults(run=_regrade)

    calibration = commands.add_parser("calibration", help="Brier score and reliability of win rates")
    calibration.add_argument("--by", choices=("member", "team", "standard_version"), default="member")
    calibration.set_defaults(run=_calibration, reads=True)

    verify = commands.add_parser("verify", help="recompute the audit chain from the stored events "
                                                "and compare it with the recorded one (exit 3 on a "
                                                "difference)")
    verify.set_defaults(run=_verify, reads=True)
    return root


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as invalid:
        print(f"goldsplit: {invalid}", file=sys.stderr)
        return 2
    if getattr(args, "reads", False) and not ledger_exists(settings.database_url):
        print(f"goldsplit: no ledger at {_masked(settings.database_url)} (GOLDSPLIT_DATABASE_URL); "
              "nothing to read", file=sys.stderr)
        return 2
    try:
        return args.run(args, settings)
    except DomainError as refusal:  # a refusal is a message, not a traceback
        print(f"goldsplit: {refusal.detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
