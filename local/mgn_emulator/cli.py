"""The emulator as a program: a simulated migration programme served on a port until Ctrl-C.

    python -m local.mgn_emulator --port 8600 --accounts 5 --jobs 40 --seed 1 --speed 10

The programme (``mgn_emulator.programme``) has a history of completed waves, then a live
window of ``--live-minutes`` ending now. The simulated clock starts at the window's start and
runs at ``--speed`` simulated seconds per real second, never ahead of the real clock; jobs and
items appear as it passes their times. ``--speed 0`` shows the whole programme at once.

Knobs: ``--throttle-rate`` and ``--error-rate`` answer that share of calls with
ThrottlingException or a 5xx; ``--token-ttl`` is the nextToken lifetime in simulated
seconds; ``--page-size`` caps every page (short pages); ``--late-item-share`` makes that
share of jobs show COMPLETED 20-90 simulated seconds before their last items are readable.
"""

from __future__ import annotations

import argparse
import signal
import threading
from datetime import UTC, datetime, timedelta
from types import FrameType

from local.mgn_emulator.emulator import MgnEmulator
from local.mgn_emulator.playback import PlaybackProgress
from local.mgn_emulator.programme import Programme, ProgrammeSpec, Timeline, generate_programme
from local.mgn_emulator.timefmt import format_datetime

PROGRESS_INTERVAL_SECONDS = 5.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local.mgn_emulator",
        description="Serve a simulated MGN migration programme over MGN's rest-json protocol.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--caller-account", default="111111111111")
    world = parser.add_argument_group("the programme")
    world.add_argument("--accounts", type=int, default=5, help="accounts, the caller's included")
    world.add_argument("--uninitialized", type=int, default=1, help="of them, MGN uninitialized")
    world.add_argument("--jobs", type=int, default=40)
    world.add_argument("--seed", type=int, default=1)
    world.add_argument("--failure-rate", type=float, default=1.0, help="scales every failure")
    world.add_argument(
        "--late-item-share",
        type=float,
        default=0.0,
        help="share of jobs COMPLETED before their last items are readable",
    )
    world.add_argument("--history-days", type=float, default=3.0, help="0: no history")
    world.add_argument("--live-minutes", type=float, default=50.0)
    world.add_argument("--speed", type=float, default=10.0, help="0: all at once")
    knobs = parser.add_argument_group("faults")
    knobs.add_argument("--throttle-rate", type=float, default=0.0)
    knobs.add_argument("--error-rate", type=float, default=0.0, help="5xx answers")
    knobs.add_argument("--fault-seed", type=int, default=None)
    knobs.add_argument("--token-ttl", type=float, default=3600.0, help="simulated seconds")
    knobs.add_argument("--page-size", type=int, default=None, help="cap on every page")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    now = datetime.now(UTC)
    live_start = now - timedelta(minutes=args.live_minutes)
    timeline = Timeline(
        live_start=live_start,
        live_end=now,
        history_start=live_start - timedelta(days=args.history_days)
        if args.history_days > 0
        else None,
    )
    spec = ProgrammeSpec(
        accounts=args.accounts,
        jobs=args.jobs,
        seed=args.seed,
        uninitialized=args.uninitialized,
        failure_rate=args.failure_rate,
        late_item_share=args.late_item_share,
    )
    programme = generate_programme(spec, timeline, caller_account=args.caller_account)
    emulator = MgnEmulator(
        args.caller_account,
        args.region,
        token_ttl_seconds=args.token_ttl,
        max_page_size=args.page_size,
        host=args.host,
        port=args.port,
    )
    emulator.set_fault_rates(args.throttle_rate, args.error_rate, seed=args.fault_seed)
    if args.speed > 0:
        emulator.run_clock(speed=args.speed, start=live_start)
    else:
        emulator.set_now(now)
    playback = emulator.play(programme)
    with emulator:
        _print_banner(emulator, programme, playback.progress())
        last: PlaybackProgress | None = None
        while not stop.wait(PROGRESS_INTERVAL_SECONDS if not args.quiet else 3600):
            progress = playback.reveal_until(emulator.now())
            if progress != last and not args.quiet:
                print(_progress_line(emulator.now(), progress), flush=True)
                last = progress
    print("stopped", flush=True)
    return 0


def _print_banner(emulator: MgnEmulator, programme: Programme, progress: PlaybackProgress) -> None:
    print(f"MGN emulator on {emulator.endpoint_url} (region {emulator.region})")
    print(f"  export AWS_ENDPOINT_URL_MGN={emulator.endpoint_url} AWS_REGION={emulator.region}")
    print("  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing")
    for account in programme.accounts:
        role = "caller" if not account.managed else "managed"
        state = "initialized" if account.initialized else "UNINITIALIZED"
        print(f"  account {account.account_id}  {role:<7}  {state}")
    inventory = programme.inventory
    print(
        f"  {len(inventory.waves)} waves, {len(inventory.applications)} applications, "
        f"{len(inventory.servers)} source servers (over the accounts)"
    )
    print(
        f"  {progress.jobs_total} jobs, {progress.items_total} items, "
        f"{progress.actions_total} post-launch actions; Ctrl-C to stop"
    )
    print(_progress_line(emulator.now(), progress), flush=True)


def _progress_line(now: datetime, progress: PlaybackProgress) -> str:
    return (
        f"sim {format_datetime(now)}  jobs {progress.jobs_created}/{progress.jobs_total} "
        f"({progress.jobs_completed} completed)  items "
        f"{progress.items_revealed}/{progress.items_total}  post-launch actions "
        f"{progress.actions_ended}/{progress.actions_total} ended"
    )
