"""One sandbox run, step by step: synth, deploy into moto, play MGN, tick, show, check."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from local.mgn_emulator.emulator import MgnEmulator
from local.mgn_emulator.programme import Programme, ProgrammeSpec, generate_programme
from local.moto_deploy import LocalDeployment, deploy_assembly, moto_server
from local.sandbox import moto_patches
from local.sandbox.accounts import account_lines, account_rows, queue_line
from local.sandbox.capture import ALERT_SUBSCRIBER_NAME, CAPTURE_NAME, Capture
from local.sandbox.checkpoints import read_checkpoints
from local.sandbox.derived import check_lines as derived_check_lines
from local.sandbox.derived import items_of, log_typed
from local.sandbox.drain import stack_drain
from local.sandbox.errors import SandboxError
from local.sandbox.function import FunctionLogs, FunctionRunner, extract_code
from local.sandbox.keep_running import (
    DEFAULT_INTERVAL_SECONDS,
    ROUND_TICKS,
    KeepRunning,
    keep_running,
)
from local.sandbox.live_wave import LiveWave, wave_spec
from local.sandbox.planned import PlannedStack, read_planned
from local.sandbox.printer import Printer
from local.sandbox.progress import TickTable
from local.sandbox.results import exporter_items, show_results, tick_report
from local.sandbox.simulation import SettleTimings, TimePlan, plan_time, settle_timings
from local.sandbox.stack import DeployedStack, describe_stack
from local.sandbox.summary import (
    check_lines,
    dropped_lines,
)
from local.sandbox.synth import synthesize
from local.sandbox.ticks import TickHistory, TickLoop, TickRecord
from local.sandbox.waves import WAVE_LEGEND, example_lines, wave_lines, wave_rows
from local.sandbox.words import noun, plural

REGION = "us-east-1"
# A tick's drain that takes longer than this is a defect (a queue that never settles).
DRAIN_TIMEOUT_SECONDS = 900.0
TICK_LEGEND = [
    "queued: accounts the dispatcher sent a work request for; batches: worker invocations; "
    "hand-ons: continuation requests",
    "for a backlog left at a deadline; accounts: each account's last outcome in the tick "
    "(waiting: a failed record of it waits for its retry;",
    "not initialized: MGN is not initialized there, which the worker records and rechecks "
    "hourly: not a failure, its request is done)",
]


@dataclass(frozen=True)
class Options:
    accounts: int = 5
    uninitialized: int = 1  # the last member accounts, MGN not initialized there
    jobs: int = 60
    ticks: int = 10
    seed: int = 1
    tick_minutes: float | None = None
    history_days: float = 3.0
    failure_rate: float = 1.0
    # The share of jobs that show COMPLETED before their last items are readable (late items,
    # 20-90 simulated seconds later; the live wave's too): each must still be exported once.
    late_item_share: float = 0.2
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    page_size: int | None = None
    token_ttl: float = 3600.0
    function_timeout: float = 60.0
    # Worker environments polling the work queue at once (at most the mapping's
    # MaximumConcurrency): 2 keeps a 2-core machine responsive.
    workers: int = 2
    max_drains: int = 3
    # How long a drain tick waits for the retry of a failed record of an account it must export.
    retry_wait_seconds: float = 120.0
    cdk_out: Path | None = None
    skip_synth: bool = False
    keep_running: bool = False
    # --keep-running: real seconds between the ticks after the report, and how many (None:
    # until Ctrl-C).
    keep_running_every: float = DEFAULT_INTERVAL_SECONDS
    keep_running_ticks: int | None = None
    json_report: Path | None = None


@dataclass
class Outcome:
    passed: bool = False
    report: dict[str, Any] = field(default_factory=dict)


def run(options: Options, out: TextIO, stop: threading.Event | None = None) -> Outcome:
    """Run the sandbox; servers and subprocesses are stopped however it ends."""
    say = Printer(out)
    started = time.monotonic()
    outcome = Outcome()
    say.line(
        "MGN job log exporter sandbox: the CDK stack on a local cloud (moto), fed by a "
        "simulated MGN migration programme"
    )
    say.line(
        f"seed {options.seed}, {plural(options.accounts, 'account')}, "
        f"{plural(options.jobs, 'job')}, {plural(options.ticks, 'tick')}"
    )
    with ExitStack() as resources:
        workdir = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="mgn-sandbox-")))
        assembly = options.cdk_out or workdir / "cdk.out"
        if options.skip_synth:
            if not (assembly / "manifest.json").is_file():
                raise SandboxError(f"--skip-synth: no cloud assembly in {assembly}")
            say.step(f"Using the cloud assembly in {assembly} (not synthesized again)")
        else:
            seconds = synthesize(assembly)
            say.step(f"Synthesized the CDK app (python app.py) in {seconds:.1f} s")

        # Options the stack's settings bound are checked before anything is deployed.
        planned = read_planned(assembly)
        plan = _plan(options, planned)
        workers_wanted = worker_count(options, planned.max_concurrency)
        moto_patches.apply()
        endpoint = resources.enter_context(moto_server())
        deploy_started = time.monotonic()
        deployment = deploy_assembly(assembly, endpoint_url=endpoint, region=REGION)
        stack = describe_stack(deployment, assembly, endpoint, REGION)
        capture = Capture.install(stack)
        _show_deployment(say, stack, deployment, time.monotonic() - deploy_started)

        spec = ProgrammeSpec(
            accounts=options.accounts,
            jobs=options.jobs,
            uninitialized=options.uninitialized,
            seed=options.seed,
            failure_rate=options.failure_rate,
            late_item_share=options.late_item_share,
        )
        programme = generate_programme(spec, plan.timeline, caller_account=stack.account_id)
        # The live wave needs a tick after the first (the first export of its account): the
        # run's last, or those --keep-running adds.
        wants_wave = plan.ticks > 1 or options.keep_running
        wave = LiveWave(wave_spec(spec), stack.account_id) if wants_wave else None
        emulator = MgnEmulator(
            stack.account_id,
            stack.region,
            token_ttl_seconds=options.token_ttl,
            max_page_size=options.page_size,
        )
        emulator.set_fault_rates(options.throttle_rate, options.error_rate, seed=options.seed)
        resources.enter_context(emulator)
        emulator.set_now(plan.live_start)
        playback = emulator.play(programme)
        if wave is not None:
            # Named in MGN before the first tick, so the worker's first inventory read holds
            # the wave's servers whenever their items come (sandbox.live_inventory).
            wave.register(emulator, programme)
        _show_programme(say, emulator, programme, plan, options, wave)

        roots = extract_code(stack, workdir)
        dispatcher = FunctionRunner(
            stack,
            stack.dispatcher,
            task_root=roots[stack.dispatcher.name],
            mgn_endpoint=emulator.endpoint_url,
            label="dispatcher",
        )
        resources.callback(dispatcher.close)
        workers = [
            FunctionRunner(
                stack,
                stack.worker,
                task_root=roots[stack.worker.name],
                mgn_endpoint=emulator.endpoint_url,
                label=f"worker-{slot}",
            )
            for slot in range(1, workers_wanted + 1)
        ]
        for worker in workers:
            resources.callback(worker.close)
        dispatcher_budget = min(stack.dispatcher.timeout_seconds, options.function_timeout)
        worker_budget = min(stack.worker.timeout_seconds, options.function_timeout)
        settle = settle_timings(
            planned.overlap_minutes,
            keep_running_every=options.keep_running_every if options.keep_running else None,
            round_ticks=ROUND_TICKS,
        )
        _show_functions(say, stack, options, len(workers), dispatcher_budget, worker_budget)
        _show_settle(say, settle, plan.ticks, options.keep_running)
        function_logs = FunctionLogs(stack)
        table = TickTable(out)
        loop = TickLoop(
            stack=stack,
            emulator=emulator,
            playback=playback,
            plan=plan,
            dispatcher=dispatcher,
            drain=stack_drain(
                stack, workers, function_logs=function_logs, budget_seconds=worker_budget
            ),
            function_logs=function_logs,
            table=table,
            dispatcher_budget_seconds=dispatcher_budget,
            drain_timeout_seconds=DRAIN_TIMEOUT_SECONDS + options.retry_wait_seconds,
            retry_wait_seconds=options.retry_wait_seconds,
            max_drains=options.max_drains,
            wave=wave,
            workers=workers,
            settle=settle,
        )
        history = loop.run()
        # What MGN held in all: the programme and, once laid, the live wave.
        programme = wave.joined(programme) if wave else programme
        say.lines(TICK_LEGEND, indent=1)
        handler_files = {r.handler_file for r in [dispatcher, *workers] if r.handler_file}
        for handler_file in sorted(handler_files):
            say.line(f"handlers imported from the extracted package: {handler_file}", 1)

        records = capture.log_records()
        # The job log items (the derived events have their own section and check).
        bus_details = exporter_items(stack, capture.bus_events())
        log_details = items_of(log_typed([r.detail for r in records]))
        accounts = account_rows(
            programme=programme,
            own_account=stack.account_id,
            history=history,
            bus_details=bus_details,
            log_details=log_details,
            checkpoints=read_checkpoints(stack),
            last_drain=history.records[-1].drain if history.records else None,
        )
        say.line("Per account at the end (items exported to each sink; what the workers did):", 1)
        say.lines(account_lines(accounts), indent=2)
        say.line(
            queue_line(
                history.records[-1].drain if history.records else None,
                stack.worker.environment.get("RETRY_BACKOFF_SECONDS"),
            ),
            2,
        )
        waves = wave_rows(bus_details, log_details)
        say.line("Per wave at the end (the names the exporter put on its items):", 1)
        say.lines(wave_lines(waves), indent=2)
        say.line(WAVE_LEGEND, 2)
        say.lines(example_lines(bus_details, capture.alert_messages(), alerts=6), indent=2)

        say.step("Results")
        live_jobs = {job.job_id for laid in wave.rounds for job in laid.jobs} if wave else set()
        check, report = show_results(
            say, stack, capture, programme, history, emulator, accounts, records, live_jobs
        )
        elapsed = time.monotonic() - started
        cold_starts = sum(r.cold_starts for r in [dispatcher, *workers])
        say.line()
        say.lines(check_lines(check.items), indent=0)
        say.lines(derived_check_lines(check.derived), indent=0)
        say.line(
            f"Sandbox: {plural(len(history.records), 'tick')} ({history.drains} drain), "
            f"{plural(len(history.batches), 'worker invocation')}, "
            f"{plural(cold_starts, 'cold start')}, "
            f"{elapsed:.1f} s"
        )
        report.update(
            waves=[row.as_report() for row in waves],
            liveWave=_wave_report(wave),
            passed=check.passed,
            seconds=round(elapsed, 1),
            options={k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
        )
        outcome = Outcome(check.passed, report)
        _write_report(options.json_report, report)
        if options.keep_running:
            assert wave is not None  # --keep-running always has one (wants_wave)
            kept = _keep_running(
                say,
                options,
                stack=stack,
                emulator=emulator,
                programme=programme,
                loop=loop,
                history=history,
                capture=capture,
                table=table,
                wave=wave,
                stop=stop,
            )
            # The report again, with the ticks after it (the first write is there while they
            # run, for whoever explores meanwhile).
            report["keptRunning"] = _kept_running_report(kept, wave)
            _write_report(options.json_report, report)
    return outcome


def _wave_report(wave: LiveWave | None) -> dict[str, Any] | None:
    """The live wave as the run laid it (the first round), and its names in MGN."""
    if wave is None or wave.laid is None:
        return None
    jobs = wave.laid.jobs
    return {
        "account": wave.account_id,
        "wave": wave.name,
        "servers": {server.source_server_id: server.hostname for server in wave.inventory.servers},
        "applications": [app.name for app in wave.inventory.applications],
        "jobs": [job.job_id for job in jobs],
        "items": wave.laid.item_count,
        "from": min(job.created for job in jobs).isoformat(),
        "to": max(job.ended for job in jobs).isoformat(),
    }


def worker_count(options: Options, max_concurrency: int | None) -> int:
    """The pollers: the sandbox's --workers, within the mapping's MaximumConcurrency."""
    if options.workers < 1:
        raise SandboxError("--workers must be at least 1")
    return min(options.workers, max_concurrency) if max_concurrency else options.workers


def _plan(options: Options, planned: PlannedStack) -> TimePlan:
    # The worker reads MGN; its discovery overlap and backfill bound the simulated window.
    return plan_time(
        now=datetime.now(UTC),
        ticks=options.ticks,
        tick_minutes=options.tick_minutes,
        schedule_minutes=planned.schedule_minutes,
        overlap_minutes=planned.overlap_minutes,
        backfill_days=planned.backfill_days,
        history_days=options.history_days,
    )


def _show_deployment(
    say: Printer, stack: DeployedStack, deployment: LocalDeployment, seconds: float
) -> None:
    say.step(
        f"Deployed {deployment.stack_name} into moto's CloudFormation ({stack.endpoint_url}) "
        f"in {seconds:.1f} s: {len(deployment.physical_ids)} resources created, "
        f"{len(deployment.dropped)} dropped (types moto cannot create):"
    )
    say.lines(dropped_lines(deployment.dropped), indent=2)
    schedule = stack.schedule.expression if stack.schedule else "none"
    mapping = stack.mapping
    say.line(
        f"dispatcher {stack.dispatcher.name} (schedule {schedule}) -> work queue "
        f"{_queue_name(stack.work_queue_url)} (dead-letter queue "
        f"{_queue_name(stack.dead_letter_queue_url)})",
        1,
    )
    say.line(
        f"-> event source mapping (batch {mapping.batch_size}, "
        f"{'ReportBatchItemFailures' if mapping.report_batch_item_failures else 'whole batches'}"
        f", MaximumConcurrency {mapping.max_concurrency or 'none'}) -> worker "
        f"{stack.worker.name}",
        1,
    )
    say.line(
        f"bus {stack.bus_name}, log group {stack.event_log_group}, table {stack.table_name}",
        1,
    )
    say.line(
        f"the sandbox's own observers: rule {CAPTURE_NAME} -> SQS (every event on the bus), "
        f"SQS {ALERT_SUBSCRIBER_NAME} subscribed to the alert topic",
        1,
    )


def _show_functions(
    say: Printer,
    stack: DeployedStack,
    options: Options,
    workers: int,
    dispatcher_budget: float,
    worker_budget: float,
) -> None:
    worker = stack.worker
    say.step(
        f"Running the deployed functions' code (from s3://{worker.code_bucket}/"
        f"{worker.code_key[:12]}..., CodeSha256 of both checked) on the schedule's ticks"
    )
    say.line(
        f"each tick: the dispatcher ({stack.dispatcher.handler}, {dispatcher_budget:.0f} s "
        f"deadline) gets the Scheduled Event, then the work queue is drained by {workers} "
        f"worker environment{'s' if workers != 1 else ''} ({worker.handler}, "
        f"{worker_budget:.0f} s deadline) until only retries are left",
        1,
    )
    cap = stack.mapping.max_concurrency
    say.line(
        f"{workers} at once: the mapping allows {cap or 'any number'}, the sandbox runs "
        f"--workers {options.workers} (default 2, for a 2-core machine)",
        1,
    )


def _show_settle(say: Printer, settle: SettleTimings, ticks: int, keep_running: bool) -> None:
    """The worker's completed-job timings by phase (sandbox.simulation.SettleTimings)."""
    phases = []
    if ticks > 1:
        phases.append(
            f"{settle.compressed} s for ticks 1-{ticks - 1} (MGN's clock lags the worker's by up "
            "to the live window: no job of it closes before all of it is shown)"
        )
    phases.append(
        f"{settle.caught_up} s from tick {ticks} on (everything MGN will show is shown by then)"
    )
    if keep_running:
        phases.append(
            f"{settle.kept_running} s in the ticks after the report (a round of the live wave "
            f"happens over {ROUND_TICKS} of their intervals)"
        )
    say.line(
        "a completed job closes once settled: the worker's COMPLETED_JOB_GRACE_SECONDS and "
        "POST_LAUNCH_WAIT_SECONDS (local-only settings, over the stack's minutes) are",
        1,
    )
    say.lines(phases, indent=2)


def _queue_name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _show_programme(
    say: Printer,
    emulator: MgnEmulator,
    programme: Programme,
    plan: TimePlan,
    options: Options,
    wave: LiveWave | None,
) -> None:
    uninitialized = [a.account_id for a in programme.accounts if not a.initialized]
    history = [job for job in programme.jobs if not job.live]
    say.step(
        f"MGN emulator at {emulator.endpoint_url} playing a migration programme: "
        f"{plural(len(programme.accounts), 'account')}"
        + (f" ({', '.join(uninitialized)} uninitialized)" if uninitialized else "")
        + f", {plural(len(programme.jobs), 'job')}, {plural(programme.item_count, 'item')}"
    )
    if history and plan.history_start is not None:
        say.line(
            f"history: {plural(len(history), 'job')} from {plan.history_start:%Y-%m-%d %H:%M} UTC, "
            "complete before the first tick (the first run backfills them)",
            1,
        )
    step_minutes = plan.step.total_seconds() / 60
    say.line(
        f"live window {plan.live_start:%H:%M}-{plan.live_end:%H:%M} UTC: "
        f"{plural(len(programme.jobs) - len(history), 'job')} appear as simulated time passes, "
        f"{plural(plan.ticks, 'tick')} of {step_minutes:g} simulated minutes (all of it logged "
        "before the first tick's real time: backfill to the exporter too)",
        1,
    )
    late = sum(1 for job in programme.jobs if job.late_items)
    say.line(
        f"after the launches: {plural(programme.action_count, 'post-launch action')} on the "
        "launched servers, running past their jobs' ends (MGN Post-Launch Action events, then "
        "one MGN Job Outcome per job once settled)"
        + (
            f"; {plural(late, 'job')} {'shows' if late == 1 else 'show'} COMPLETED before "
            "their last items are readable (late items)"
            if late
            else ""
        ),
        1,
    )
    if wave is None:
        say.line(
            "no live wave (it needs a second tick): every item is backfill, and the alert "
            "rules, which match live items only, stay silent",
            1,
        )
    else:
        when = (
            "laid at the last tick between its first export and the real time"
            if plan.ticks > 1
            else "laid by the ticks after the report (--keep-running)"
        )
        say.line(
            f"live wave: {len(wave.shape.jobs)} more {noun(len(wave.shape.jobs), 'job')} "
            f"({plural(wave.shape.item_count, 'item')}) in "
            f"account {wave.account_id}, {when}: the live items (backfill: false), what the "
            "alert rules fire on",
            1,
        )
        hostnames = ", ".join(server.hostname for server in wave.inventory.servers)
        apps = [app.name for app in wave.inventory.applications]
        say.line(
            f'its servers are named in MGN from the start: MGN wave "{wave.name}" (after the '
            f"programme's last), {noun(len(apps), 'application')} {', '.join(apps)}, "
            f"servers {hostnames}",
            1,
        )
    knobs = [
        f"{name} {value:g}"
        for name, value in (
            ("throttle rate", options.throttle_rate),
            ("5xx rate", options.error_rate),
        )
        if value
    ]
    if options.page_size:
        knobs.append(f"pages of at most {options.page_size} items")
    if options.token_ttl != 3600.0:
        knobs.append(f"nextToken TTL {options.token_ttl:g} simulated seconds")
    if knobs:
        say.line("MGN faults: " + ", ".join(knobs), 1)


def _keep_running(
    say: Printer,
    options: Options,
    *,
    stack: DeployedStack,
    emulator: MgnEmulator,
    programme: Programme,
    loop: TickLoop,
    history: TickHistory,
    capture: Capture,
    table: TickTable,
    wave: LiveWave,
    stop: threading.Event | None,
) -> list[TickRecord]:
    """The ticks after the report (sandbox.keep_running), until Ctrl-C or the given count."""
    applications = wave.inventory.applications
    ran = keep_running(
        say,
        stack=stack,
        emulator=emulator,
        programme=programme,
        loop=loop,
        history=history,
        capture=capture,
        table=table,
        wave_name=wave.name,
        application_name=applications[0].name if applications else "<application>",
        settings=KeepRunning(options.keep_running_every, options.keep_running_ticks),
        stop=stop or threading.Event(),
    )
    return history.records[len(history.records) - ran :]


def _kept_running_report(records: list[TickRecord], wave: LiveWave) -> dict[str, Any]:
    return {
        "ticks": [tick_report(record) for record in records],
        "itemsExported": sum(record.items_exported for record in records),
        "waveRounds": [[job.job_id for job in laid.jobs] for laid in wave.rounds],
    }


def _write_report(path: Path | None, report: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(report, indent=2, default=str) + "\n")
