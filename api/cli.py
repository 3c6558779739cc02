"""The `goldsplit` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from api.auth import TOKEN_ROLES, issue_token
from api.services import Services
from api.settings import DEV_SECRET, Settings
from domain.exceptions import DomainError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app

    host = args.host or settings.host
    if settings.secret == DEV_SECRET and host not in LOOPBACK:
        print(f"refusing to serve on {host} with the development secret: anyone could sign "
              "tokens; set GOLDSPLIT_SECRET", file=sys.stderr)
        return 2
    uvicorn.run(create_app(settings), host=host, port=args.port or settings.port, log_level="info")
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    print(issue_token(settings.secret, args.member, args.role,
                      args.ttl or settings.token_ttl_seconds))
    return 0


def _rebuild(args: argparse.Namespace, settings: Settings) -> int:
    with Services.build(settings) as services:
        started = time.monotonic()
        position = services.runner.rebuild()
        names = ", ".join(p.name for p in services.runner.projections)
        print(f"rebuilt {names} up to position {position} in {time.monotonic() - started:.2f} s")
    return 0


def _project(args: argparse.Namespace, settings: Settings) -> int:
    with Services.build(settings) as services:
        services.runner.start(settings.projection_poll_seconds)
        print(f"projecting {services.db.kind} events; Ctrl-C stops", file=sys.stderr)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def _explain(args: argparse.Namespace, settings: Settings) -> int:
    from projections.allocations import VIEW, explain

    with Services.build(settings) as services:
        services.runner.catch_up()
        doc = services.views.get(VIEW, args.allocation_id)
        if doc is None:
            print(f"no allocation {args.allocation_id}", file=sys.stderr)
            return 1
        members = [args.member] if args.member else [line["member_id"] for line in doc["result"]["lines"]]
        print(json.dumps([explain(doc, m) for m in members], indent=2))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from api.demo import run

    return run(keep=args.keep)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="goldsplit", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="play a won deal end to end on a throwaway embedded store")
    demo.add_argument("--keep", metavar="DIR", help="keep the store in DIR instead of a temp dir")
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

    rebuild = commands.add_parser("rebuild", help="drop the read models and replay the log from 1")
    rebuild.set_defaults(run=_rebuild)

    project = commands.add_parser("project", help="run the projections as a process")
    project.set_defaults(run=_project)

    explain = commands.add_parser("explain", help="show how an allocation's lines were computed")
    explain.add_argument("allocation_id")
    explain.add_argument("--member")
    explain.set_defaults(run=_explain)
    return root


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return args.run(args, Settings.from_env())
    except DomainError as refusal:  # a refusal is a message, not a traceback
        print(f"goldsplit: {refusal.detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
