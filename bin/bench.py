"""``parley bench``: the call path under load, through a real gateway process.

N concurrent inbound calls go through one gateway process (``python -m bin.cli
serve``), driven by two lean bench peers in their own processes: a Twilio peer (the
voice webhook and the Media Streams client, see ``bench_twilio``) and an ElevenLabs
ConvAI peer (see ``bench_agent``). Every 20 ms frame carries a tag (``bench_tag``) with
its call, its sequence number and its send time, so the receiving peer measures the
latency the gateway added, and finds frames dropped or reordered.

The run prints, for the N calls: added latency per frame each way, frames dropped or
reordered, ``interruption`` to ``clear``, ``start`` to the agent's first frame (with
prewarm here, and without it in a second short run), the gateway's CPU per
call-second and memory per call, and the bench peers' own CPU, so that a reader can
see whether the load limited the result. ``--find-max`` then looks for the largest
number of calls one gateway holds with p99 under 20 ms and nothing dropped. PASS/FAIL
is printed against each target; the exit status is 0 either way (it measures, it does
not gate), unless the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bin import bench_agent, bench_merge, bench_report
from bin.bench_gateway import GatewayError, Relay
from bin.bench_proc import PeerError
from bin.bench_stage import StageSpec, run_stage
from bin.local_postgres import PostgresServer
from bin.local_redis import RedisServer

FIND_MAX_P99_MS = 20.0


@dataclass(frozen=True)
class BenchOptions:
    calls: int = 100
    seconds: float = 20.0
    find_max: bool = False
    prewarm_compare: bool = True
    compare_calls: int = 5
    compare_seconds: float = 3.0
    find_max_seconds: float = 10.0
    find_max_start: int = 150
    find_max_step: int = 50
    find_max_limit: int = 1000
    pin: bool = True
    warmup_calls: int = 2
    tool_calls: int = 20
    tool_seconds: float = 10.0
    tool_every_s: float = 1.0
    processes: int = 1
    supervisors: int = 0
    baseline: bool = False


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, file=sys.stderr, flush=True)


def stage(options: BenchOptions, calls: int, seconds: float, **more: Any) -> StageSpec:
    """A stage of ``calls`` calls x ``seconds`` with the run's warm-up and pinning."""
    return StageSpec(calls, seconds, warmup_calls=options.warmup_calls, pin=options.pin, **more)


def step_passes(figures: dict[str, Any]) -> bool:
    """The find-max criterion: every call ran, p99 < 20 ms each way, nothing lost."""
    calls = figures["calls"]
    if calls["failed"] or calls["completed"] != calls["placed"]:
        return False
    for direction in ("caller_to_agent", "agent_to_caller"):
        d = figures[direction]
        if d["latency_ms"]["p99"] >= FIND_MAX_P99_MS or bench_merge.frame_faults(d):
            return False
    return True


#: One find-max search: yields (the step to run, its directory name, why it runs again
#: or ""), is sent the step's figures, and returns the search's result.
Search = Generator[tuple[StageSpec, str, str], dict[str, Any], dict[str, Any]]
StageRunner = Callable[[StageSpec, Path], dict[str, Any]]


def search(options: BenchOptions, relay: Relay = "parley") -> Search:
    """Steps of ``find_max_step`` calls from ``find_max_start`` up to the first failure.

    If the first step already fails, steps go down instead, to the first success. A
    step that fails while other processes on the machine were busy is run once more.
    """
    steps: list[dict[str, Any]] = []
    best: int | None = None
    calls = options.find_max_start
    direction = 0
    while 0 < calls <= options.find_max_limit:
        spec = stage(
            options,
            calls,
            options.find_max_seconds,
            relay=relay,
        )
        figures = yield spec, f"find-max-{relay}-{calls}", ""
        ok = step_passes(figures)
        steps.append(bench_report.step_summary(figures, ok))
        if not ok and steps[-1]["machine_busy"]:
            # Something else on the machine took CPU during this step: run it once more.
            figures = yield spec, f"find-max-{relay}-{calls}-again", "other processes were busy"
            ok = step_passes(figures)
            steps.append(bench_report.step_summary(figures, ok))
        if direction == 0:
            direction = 1 if ok else -1
        if ok:
            best = max(best or 0, calls)
            if direction < 0:
                break
        elif direction > 0:
            break
        calls += direction * options.find_max_step
    return {
        "seconds": options.find_max_seconds,
        "criterion": f"every call completes, p99 < {FIND_MAX_P99_MS:g} ms each way, "
        "nothing dropped, reordered, duplicated or misrouted",
        "steps": steps,
        "max_calls": best,
        "limit_reached": best is not None and best + options.find_max_step > options.find_max_limit,
    }


def find_max(
    options: BenchOptions,
    workdir: Path,
    quiet: bool,
    relays: tuple[Relay, ...] = ("parley",),
    run: StageRunner = run_stage,
) -> dict[Relay, dict[str, Any]]:
    """The find-max :func:`search` of each of ``relays``, their steps taken in turn.

    Why in turn: this host's speed drifts over minutes, so the gateway and the bare
    relay (``--baseline``) are compared step for step, each step of one run next to
    the same step of the other, rather than one whole search after the other.
    """
    searches = {relay: search(options, relay) for relay in relays}
    pending = {relay: next(s) for relay, s in searches.items()}
    results: dict[Relay, dict[str, Any]] = {}
    while pending:
        for relay in list(pending):
            spec, name, again = pending[relay]
            what = "" if relay == "parley" else " through the bare relay"
            _say(
                quiet,
                f"parley bench: {again}; {spec.calls} calls{what} again ..."
                if again
                else f"parley bench: find-max{what}, {spec.calls} calls x {spec.seconds:g} s ...",
            )
            figures = run(spec, workdir / name)
            try:
                pending[relay] = searches[relay].send(figures)
            except StopIteration as done:
                results[relay] = done.value
                del pending[relay]
    return results


def measure(options: BenchOptions, *, quiet: bool = True) -> dict[str, Any]:
    """Run the whole benchmark and return its report (plain JSON-able data)."""
    report: dict[str, Any] = {"options": dataclasses.asdict(options)}
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        workdir = Path(tmp)
        with shared_backends(options.processes) as shared:
            where = f" over {options.processes} gateway processes" if shared else ""
            _say(quiet, f"parley bench: {options.calls} calls x {options.seconds:g} s{where} ...")
            report["main"] = run_stage(
                stage(
                    options,
                    options.calls,
                    options.seconds,
                    processes=options.processes,
                    shared=shared,
                ),
                workdir / "main",
            )
            report["single"] = None
            if options.processes > 1:
                _say(quiet, "parley bench: the same calls through one process, to compare ...")
                report["single"] = run_stage(
                    stage(
                        options,
                        options.calls,
                        options.seconds,
                    ),
                    workdir / "single",
                )
            report["fanout"] = None
            if options.supervisors:
                _say(
                    quiet,
                    f"parley bench: the same calls with {options.supervisors} supervisors"
                    " watching every call ...",
                )
                report["fanout"] = run_stage(
                    stage(
                        options,
                        options.calls,
                        options.seconds,
                        processes=options.processes,
                        supervisors=options.supervisors,
                        shared=shared,
                    ),
                    workdir / "fanout",
                )
        report["no_prewarm"] = None
        if options.prewarm_compare:
            _say(quiet, f"parley bench: {options.compare_calls} calls without prewarm ...")
            report["no_prewarm"] = run_stage(
                stage(
                    options,
                    options.compare_calls,
                    options.compare_seconds,
                    prewarm=False,
                ),
                workdir / "no-prewarm",
            )
        report["tools"] = None
        if options.tool_calls:
            _say(
                quiet,
                f"parley bench: {options.tool_calls} calls making a tool call every"
                f" {options.tool_every_s:g} s ...",
            )
            report["tools"] = run_stage(
                stage(
                    options,
                    options.tool_calls,
                    options.tool_seconds,
                    # Long enough for each warm-up call to run the whole tool cycle once.
                    warmup_seconds=tool_warmup_seconds(options.tool_every_s),
                    tool_every_s=options.tool_every_s,
                ),
                workdir / "tools",
            )
        report["baseline"] = None
        if options.baseline:
            _say(quiet, f"parley bench: the same {options.calls} calls through the bare relay ...")
            report["baseline"] = run_stage(
                stage(
                    options,
                    options.calls,
                    options.seconds,
                    relay="bare",
                ),
                workdir / "baseline",
            )
        found: dict[Relay, dict[str, Any]] = {}
        if options.find_max:
            relays: tuple[Relay, ...] = ("parley", "bare") if options.baseline else ("parley",)
            found = find_max(options, workdir, quiet, relays)
        report["find_max"] = found.get("parley")
        report["baseline_find_max"] = found.get("bare")
    report["targets"] = bench_report.targets(report)
    return report


def tool_warmup_seconds(every_s: float) -> float:
    """A warm-up call's length for the tool stage: its first tool call comes after
    about a second, then one every ``every_s`` through the bench conversation's cycle."""
    return 1.5 + every_s * bench_agent.TOOL_CYCLE_LENGTH


@contextlib.contextmanager
def shared_backends(processes: int) -> Iterator[tuple[tuple[str, str], ...]]:
    """For several gateway processes: a local redis-server and PostgreSQL they share.

    Both come from the system's packages (as in the tests), live only for the run, and
    are stopped however it ends. One process needs neither (SQLite, in-process bus).
    """
    if processes == 1:
        yield ()
        return
    redis = RedisServer()
    postgres = PostgresServer()
    try:
        redis.start()
        postgres.start()
        yield (
            ("PARLEY_REDIS_URL", redis.url),
            ("PARLEY_DATABASE_URL", postgres.create_database()),
        )
    finally:
        redis.stop()
        with contextlib.suppress(Exception):
            postgres.stop()


def options_from(args: argparse.Namespace) -> BenchOptions:
    return BenchOptions(
        calls=args.calls,
        seconds=args.seconds,
        find_max=args.find_max,
        prewarm_compare=not getattr(args, "no_prewarm_compare", False),
        find_max_seconds=getattr(args, "find_max_seconds", 10.0),
        pin=not getattr(args, "no_pin", False),
        tool_calls=getattr(args, "tool_calls", 20),
        tool_seconds=getattr(args, "tool_seconds", 10.0),
        processes=getattr(args, "processes", 1),
        supervisors=getattr(args, "supervisors", 0),
        baseline=getattr(args, "baseline", False),
    )


def run_bench(args: argparse.Namespace) -> int:
    """``parley bench``: 0 once figures are printed (met or not), 1 if it could not run."""
    options = options_from(args)
    if not 1 <= options.processes <= 8 or not 0 <= options.supervisors <= 1000:
        print("parley bench: --processes must be 1..8 and --supervisors 0..1000", file=sys.stderr)
        return 2
    if not 1 <= options.calls <= options.find_max_limit or options.seconds < 2:
        print(
            f"parley bench: --calls must be 1..{options.find_max_limit} and --seconds >= 2",
            file=sys.stderr,
        )
        return 2
    as_json = bool(getattr(args, "json", False))
    try:
        report = measure(options, quiet=False)
    except (GatewayError, PeerError, OSError) as exc:
        print(f"parley bench: could not run: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("parley bench: interrupted; every process it started is stopped", file=sys.stderr)
        return 130
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(bench_report.render(report))
    return 0
