"""The ``parley`` command: ``serve``, ``demo`` and ``bench``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from config.logging import configure_logging
from config.settings import SettingsError, load_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bin.server import uvicorn_config

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    uvicorn.Server(uvicorn_config(settings, args.host, args.port)).run()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bin.demo import run_demo

    return run_demo(language=args.language, opening_mode=args.opening)


def _bench(args: argparse.Namespace) -> int:
    from bin.bench import run_bench

    return run_bench(args)


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
    bench.set_defaults(func=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
