"""The ``parley`` command: ``serve``, ``demo``, ``bench [import]``, ``migrate``, ``import``,
``agent sync``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bin import agent_cmd, import_cmd
from bin.bench_import import add_arguments as add_import_bench_arguments
from config.logging import configure_logging
from config.settings import SettingsError, load_settings, load_store_settings


def _serve(args: argparse.Namespace) -> int:
    from bin.server import DrainingServer, uvicorn_config
    from gateway.app import create_app

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    app = create_app(settings, freeze_heap=True)
    DrainingServer(uvicorn_config(settings, args.host, args.port, app), app).run()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bin.demo import run_demo

    return run_demo(language=args.language, opening_mode=args.opening)


def _bench(args: argparse.Namespace) -> int:
    from bin.bench import run_bench

    return run_bench(args)


def _bench_import(args: argparse.Namespace) -> int:
    from bin.bench_import import run_bench_import

    return run_bench_import(args)


def _migrate(args: argparse.Namespace) -> int:
    import asyncio

    from backoffice.store.migrate import upgrade

    try:
        settings = load_store_settings()
    except SettingsError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    asyncio.run(upgrade(settings.database_url))
    print(f"database at {settings.database_url.split('@')[-1]} is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_serve)

    demo = sub.add_parser("demo", help="one whole simulated call through the real gateway")
    demo.add_argument("--language", default="en", choices=["en", "es"])
    demo.add_argument("--opening", default="agent_first", choices=["agent_first", "callee_first"])
    demo.set_defaults(func=_demo)

    bench = sub.add_parser("bench", help="measure the call path under load")
    bench.add_argument("--calls", type=int, default=100, help="concurrent calls")
    bench.add_argument("--seconds", type=float, default=20.0, help="length of each call")
    bench.add_argument(
        "--find-max",
        action="store_true",
        help="also search for the largest number of calls with p99 under 20 ms",
    )
    bench.add_argument("--json", action="store_true", help="print the report as JSON")
    bench.add_argument(
        "--processes",
        type=int,
        default=1,
        help="gateway processes sharing a local redis-server and PostgreSQL (compared with one)",
    )
    bench.add_argument(
        "--supervisors",
        type=int,
        default=0,
        help="also run the calls with this many WS /live supervisors watching every call",
    )
    bench.add_argument(
        "--baseline",
        action="store_true",
        help="also run the same calls (and find-max) through a bare relay that only moves"
        " frames, to show what this host gives any relay",
    )
    bench.add_argument(
        "--no-prewarm-compare",
        action="store_true",
        help="skip the short second run without prewarm",
    )
    bench.add_argument(
        "--find-max-seconds", type=float, default=10.0, help="length of each find-max call"
    )
    bench.add_argument(
        "--no-pin",
        action="store_true",
        help="let the OS place the processes (default: the gateway gets a CPU of its own)",
    )
    bench.add_argument(
        "--tool-calls",
        type=int,
        default=20,
        help="calls of the tool stage, each making a client tool call per second (0: skip)",
    )
    bench.add_argument(
        "--tool-seconds", type=float, default=10.0, help="length of each tool-stage call"
    )
    bench.set_defaults(func=_bench)
    what = bench.add_subparsers(dest="bench_what", metavar="{import}")
    bench_import = what.add_parser("import", help="measure the portfolio import")
    add_import_bench_arguments(bench_import)
    bench_import.set_defaults(func=_bench_import)

    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(func=_migrate)

    import_cmd.add_parser(sub)
    agent_cmd.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
