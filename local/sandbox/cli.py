"""``python -m local.sandbox``: options, signals, exit status.

Exit status: 0 when every emulated item reached EventBridge and the event log group exactly
once, 1 when not, 2 when a step could not run, 130 on Ctrl-C (everything started is stopped).
With ``--keep-running``, Ctrl-C after the report is how the run ends: its status is then the
check's (0 or 1), as with ``--keep-running-ticks``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from local.sandbox.errors import SandboxError
from local.sandbox.keep_running import MIN_INTERVAL_SECONDS
from local.sandbox.run import Options, run


def _number(kind: type[int] | type[float], low: float, high: float | None = None) -> Any:
    """An argparse type: a `kind` within [low, high]; argparse names the option on error."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {kind.__name__}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value

    parse.__name__ = kind.__name__  # what argparse calls the type in its messages
    return parse


def parse_args(argv: list[str] | None) -> Options:
    defaults = Options()
    parser = argparse.ArgumentParser(
        prog="python -m local.sandbox",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Deploy the stack into moto (in process, 127.0.0.1), feed it a simulated MGN "
        "migration programme from the MGN emulator, run the deployed dispatcher on the "
        "schedule's ticks and the deployed worker on its work queue, show the events, alerts, "
        "log lines and saved queries, and check that every item reached EventBridge and the "
        "log group exactly once.",
    )
    world = parser.add_argument_group("the simulated programme")
    world.add_argument(
        "--accounts",
        type=_number(int, 1, 1000),
        default=defaults.accounts,
        help="accounts, the stack's own included",
    )
    world.add_argument(
        "--uninitialized",
        type=_number(int, 0),
        default=defaults.uninitialized,
        help="of the member accounts, the last so many have MGN uninitialized",
    )
    world.add_argument(
        "--jobs", type=_number(int, 0), default=defaults.jobs, help="test and cutover jobs"
    )
    world.add_argument(
        "--ticks",
        type=_number(int, 1),
        default=defaults.ticks,
        help="schedule ticks; with two or more, the last adds the live wave (MGN items logged "
        "after the first export: the only ones the alert rules match)",
    )
    world.add_argument(
        "--seed", type=int, default=defaults.seed, help="the programme and the faults drawn"
    )
    world.add_argument(
        "--tick-minutes",
        type=_number(float, 0.01),
        default=None,
        help="simulated minutes per tick (default: the deployed schedule's rate, "
        "shortened so that the ticks fit the exporter's discovery overlap)",
    )
    world.add_argument(
        "--history-days",
        type=_number(float, 0),
        default=defaults.history_days,
        help="completed waves before the live window (0: none)",
    )
    world.add_argument(
        "--failure-rate",
        type=_number(float, 0),
        default=defaults.failure_rate,
        help="scales every failure chance (0: no failures)",
    )
    faults = parser.add_argument_group("MGN emulator knobs")
    faults.add_argument(
        "--throttle-rate",
        type=_number(float, 0, 1),
        default=defaults.throttle_rate,
        help="share of MGN calls answered ThrottlingException",
    )
    faults.add_argument(
        "--error-rate",
        type=_number(float, 0, 1),
        default=defaults.error_rate,
        help="share of MGN calls answered with a 5xx",
    )
    faults.add_argument(
        "--page-size",
        type=_number(int, 1, 1000),
        default=None,
        help="cap on every MGN page (short pages)",
    )
    faults.add_argument(
        "--token-ttl",
        type=_number(float, 1),
        default=defaults.token_ttl,
        help="nextToken lifetime, simulated seconds",
    )
    run_group = parser.add_argument_group("the run")
    run_group.add_argument(
        "--function-timeout",
        type=_number(float, 1, 900),
        default=defaults.function_timeout,
        help="deadline of each invocation, seconds (at most the function's deployed Timeout)",
    )
    run_group.add_argument(
        "--workers",
        type=_number(int, 1),
        default=defaults.workers,
        help="worker environments polling the work queue at once, at most the deployed "
        "mapping's MaximumConcurrency (2 suits a 2-core machine)",
    )
    run_group.add_argument(
        "--cdk-out",
        type=Path,
        default=None,
        help="synthesize into this directory (default: a temporary one)",
    )
    run_group.add_argument(
        "--skip-synth", action="store_true", help="deploy the assembly already in --cdk-out"
    )
    run_group.add_argument(
        "--keep-running",
        action="store_true",
        help="afterwards, keep moto and the emulator up and the schedule ticking until Ctrl-C: "
        "the live wave is laid again as the ticks go on, and the commands to build a rule of "
        "your own on the bus are printed",
    )
    run_group.add_argument(
        "--keep-running-every",
        type=_number(float, MIN_INTERVAL_SECONDS),
        # Absent unless given (so that giving it without --keep-running is refused); the
        # default is said in the help instead.
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help=f"with --keep-running: real seconds between its ticks (default: "
        f"{defaults.keep_running_every:g}, at least {MIN_INTERVAL_SECONDS:g})",
    )
    run_group.add_argument(
        "--keep-running-ticks",
        type=_number(int, 1),
        default=argparse.SUPPRESS,
        metavar="N",
        help="with --keep-running: stop after N ticks instead of at Ctrl-C",
    )
    run_group.add_argument(
        "--json-report", type=Path, default=None, help="also write the results as JSON to this file"
    )
    args = parser.parse_args(argv)
    if args.skip_synth and args.cdk_out is None:
        parser.error("--skip-synth needs --cdk-out")
    for name in ("keep_running_every", "keep_running_ticks"):
        if hasattr(args, name) and not args.keep_running:
            parser.error(f"--{name.replace('_', '-')} needs --keep-running")
    return Options(
        accounts=args.accounts,
        uninitialized=args.uninitialized,
        jobs=args.jobs,
        ticks=args.ticks,
        seed=args.seed,
        tick_minutes=args.tick_minutes,
        history_days=args.history_days,
        failure_rate=args.failure_rate,
        throttle_rate=args.throttle_rate,
        error_rate=args.error_rate,
        page_size=args.page_size,
        token_ttl=args.token_ttl,
        function_timeout=args.function_timeout,
        workers=args.workers,
        cdk_out=args.cdk_out,
        skip_synth=args.skip_synth,
        keep_running=args.keep_running,
        keep_running_every=getattr(args, "keep_running_every", defaults.keep_running_every),
        keep_running_ticks=getattr(args, "keep_running_ticks", None),
        json_report=args.json_report,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    stop = threading.Event()

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        # SIGTERM unwinds like Ctrl-C: every server and subprocess is stopped on the way out.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_terminate)
    # Ctrl-C must work even when started with SIGINT ignored (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        outcome = run(options, sys.stdout, stop)
    except KeyboardInterrupt:
        print("\nInterrupted: moto, the MGN emulator and the functions were stopped.", flush=True)
        return 130
    except (SandboxError, ValueError) as exc:
        print(f"\nsandbox: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0 if outcome.passed else 1
