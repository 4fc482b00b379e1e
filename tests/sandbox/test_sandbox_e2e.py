"""The sandbox end to end, as the README runs it: ``python -m local.sandbox`` on a small seeded
world (synth, deploy into moto, ticks of the deployed code, the sinks, the per-wave view, the
check), then its keep-running mode (a rule of one's own on the bus, Ctrl-C), a keep-running
run of a given number of ticks, and Ctrl-C mid-run.

Not marked slow on purpose: CI (``make test``, which deselects ``slow``) must run them; the
three take about two minutes on an idle 2-core machine.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.sandbox.synth import REPO_ROOT, synthesize

SMALL_WORLD = ["--accounts", "3", "--jobs", "8", "--ticks", "4", "--seed", "7"]
FAILURES = ("SNAPSHOT_FAIL", "CONVERSION_FAIL", "LAUNCH_FAILED", "CLEANUP_FAIL")
ITEM_RULES = ("ErrorItemsRule", "CutoverLaunchFailureRule")
OUTCOME_RULE = "FailedCutoverOutcomeRule"
ACTION_RULE = "FailedRequiredPostLaunchActionRule"
# A tick after the report (--keep-running): numbered on, without the run's "/total".
KEPT_TICK_ROW = r"^\s+(\d+)\s+\d\d:\d\d:\d\d\s+\d+/\d+\s"
# How long the test's own rule may take to receive the live wave's events (a round is laid
# every two or three ticks of 5 s; the bound is for a loaded machine).
RULE_TIMEOUT_SECONDS = 180
CREDENTIALS: dict[str, Any] = {
    "region_name": "us-east-1",
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}


class Sandbox:
    """``python -m local.sandbox`` in a subprocess, its output read as it comes."""

    def __init__(self, *args: str, stderr: Path) -> None:
        env = dict(os.environ, JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1")
        self._stderr = stderr
        with stderr.open("w") as errors:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "local.sandbox", *args],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None or time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in:\n" + "\n".join(self.lines[-60:]))
            self.lines.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def interrupt(self, timeout: float = 60) -> tuple[int, str]:
        """Ctrl-C; returns the exit status and stderr once it has exited."""
        os.kill(self.process.pid, signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float) -> tuple[int, str]:
        """The exit status and stderr once it has exited (killed after `timeout`)."""
        try:
            returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return returncode, self._stderr.read_text()


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox") / "cdk.out"


def test_small_world_passes_the_check_and_stays_up_for_exploring(
    cdk_out: Path, tmp_path: Path
) -> None:
    report_path = tmp_path / "report.json"
    sandbox = Sandbox(
        *SMALL_WORLD,
        "--cdk-out",
        str(cdk_out),
        "--json-report",
        str(report_path),
        "--keep-running",
        "--keep-running-every",
        "5",
        stderr=tmp_path / "stderr.txt",
    )
    try:
        moto_url = sandbox.expect(r"export AWS_ENDPOINT_URL=(\S+)", timeout=240).group(1)
        mgn_url = sandbox.expect(r"export AWS_ENDPOINT_URL_MGN=(\S+)", timeout=10).group(1)
        bus = sandbox.expect(r"# bus (\S+),", timeout=10).group(1)
        worker = sandbox.expect(r"# worker (\S+),", timeout=10).group(1)
        output = "\n".join(sandbox.lines)
        report: dict[str, Any] = json.loads(report_path.read_text())

        # Synth, deploy and four ticks of the deployed code happened.
        assert "[1/5] Synthesized the CDK app" in output
        assert (cdk_out / "manifest.json").is_file()
        assert report["deployment"]["created"] > 10
        assert "AWS::Logs::QueryDefinition" in report["deployment"]["dropped"]
        ticks = report["ticks"]
        assert [t["label"] for t in ticks][:4] == ["1/4", "2/4", "3/4", "4/4"]
        # The worker's completed-job grace: past the live window (20 simulated minutes) while
        # MGN's clock lags the real one, 0 from the last tick on (everything is shown).
        assert [t["graceSeconds"] for t in ticks[:3]] == [ticks[0]["graceSeconds"]] * 3
        assert ticks[0]["graceSeconds"] > 20 * 60
        assert all(t["graceSeconds"] == 0 for t in ticks[3:])

        # Each tick the dispatcher sent a work request for every account, and the worker's
        # environments drained them all: the initialized accounts exported, the uninitialized
        # one reported as such.
        accounts = report["programme"]["accounts"]
        (uninitialized,) = (a["account_id"] for a in accounts if not a["initialized"])
        initialized = {a["account_id"] for a in accounts if a["initialized"]}
        for tick in ticks:
            assert tick["dispatch"]["ok"], tick["dispatch"]["error"]
            assert tick["dispatch"]["accountsDispatched"] == len(accounts) == 3
            assert tick["batches"] and all(b["ok"] and b["logged"] for b in tick["batches"])
            worked_on = {a["account_id"] for b in tick["batches"] for a in b["accounts"]}
            assert initialized | {uninitialized} <= worked_on
            assert tick["accounts"] == dict.fromkeys(initialized, "ok") | {
                uninitialized: "not initialized"
            }
        assert report["mapping"]["batch_size"] == 10
        assert report["mapping"]["report_batch_item_failures"] is True

        # MGN not being initialized in an account is not a failure: the account's every record
        # was done (deleted, not in batchItemFailures), its outcome "uninitialized" each time,
        # so nothing of it waits for a retry or reaches the dead-letter queue. The worker said
        # so once (its counter, a WARNING naming the account) and recorded it in the
        # account's checkpoint item.
        batches = [b for t in ticks for b in t["batches"]]
        records = [r for b in batches for r in b["records"]]
        assert [r for r in records if r["failed"]] == []
        assert all(b["response"]["batchItemFailures"] == [] for b in batches)
        outcomes = [
            a["outcome"] for b in batches for a in b["accounts"] if a["account_id"] == uninitialized
        ]
        assert outcomes == ["uninitialized"] * len(ticks)
        assert sum(b["counters"].get("AccountsUninitialized", 0) for b in batches) == 1
        assert all(not t["waiting"] and not t["deadLetters"] for t in ticks)
        rows = {row["account_id"]: row for row in report["accounts"]}
        for account in initialized:
            row = rows[account]
            assert row["on_bus"] == row["in_log_group"] == row["items_in_mgn"]
            assert row["waiting"] == row["dead_letters"] == row["failures"] == 0
            assert row["open_jobs"] == 0 and row["invocations"] >= 4 and not row["note"]
        row = rows[uninitialized]
        assert row["failures"] == row["waiting"] == row["dead_letters"] == row["items_in_mgn"] == 0
        assert row["invocations"] == len(ticks)
        assert row["note"].startswith("MGN not initialized (recorded ")
        assert "(uninitialized)" in output and "MGN asked again from" in output
        assert f"WARNING MGN is not initialized in account {uninitialized}" in output
        assert "waiting for a retry" not in output
        assert "work queue: empty; dead-letter queue: 0 messages" in output

        # Every item of the initialized accounts reached both sinks exactly once, the late
        # ones (readable after their job showed COMPLETED) included.
        check = report["check"]
        assert report["passed"] and check["passed"]
        assert check["expected"] == report["programme"]["items"] > 0
        assert report["programme"]["jobsWithLateItems"] > 0
        for sink in check["sinks"]:
            assert sink["received"] == sink["distinct"] == check["expected"]
        assert "Exactly once: PASS" in output

        # The derived events too: every job settled and closed, its outcome once in each sink
        # as MGN has it, every post-launch action's final status once in each.
        derived = report["derivedCheck"]
        assert derived["passed"]
        assert derived["jobs"] == report["programme"]["jobs"] == 8 + 2  # the live wave's too
        assert derived["executions"] == report["programme"]["postLaunchActions"] > 0
        for sink in derived["sinks"]:
            assert sink["outcomes"] == derived["jobs"]
            assert sink["statuses"] >= derived["executions"]
            assert sink["finals_missing"] == sink["statuses_duplicated"] == 0
        assert "Derived events exactly once: PASS" in output
        outcomes = report["busDerived"]["outcomes"]
        assert len(outcomes) == derived["jobs"]

        # The programme is backfill to the exporter (logged before the first tick's real
        # time); the live wave, laid at the last tick after the own account's first export,
        # is live and holds failures.
        wave = report["liveWave"]
        own = accounts[0]
        assert wave and len(wave["jobs"]) == 2 and wave["account"] == own["account_id"]
        assert own["initialized"] and not own["managed"]
        items = report["busItems"]
        assert items["live"] == wave["items"] > 0
        assert items["backfill"] == report["programme"]["items"] - wave["items"] > 0
        assert set(items["liveErrors"]) & set(FAILURES)
        assert set(items["backfillErrors"]) & set(FAILURES)

        # The alert rules fired on the live failures, and on nothing backfilled: every live
        # ERROR item matched one item rule (a cutover launch failure the narrow one, any other
        # the broad one); the live cutover's outcome (a server failed to launch) and its
        # failed action that must succeed for cutover matched the derived events' rules; the
        # topic delivered one message per match.
        alerts = report["alerts"]
        rules = alerts["rules"]
        assert alerts["matchedBackfill"] == 0
        assert sum((Counter(rules[rule]) for rule in ITEM_RULES), Counter()) == Counter(
            items["liveErrors"]
        )
        live_outcomes = [row for row in outcomes if row["live"]]
        assert {row["jobID"] for row in live_outcomes} == set(wave["jobs"])
        failed_cutovers = [
            row for row in live_outcomes if row["initiatedBy"] == "START_CUTOVER" and row["failed"]
        ]
        assert failed_cutovers
        assert rules[OUTCOME_RULE] == {"MGN Job Outcome": len(failed_cutovers)}
        must_failed = sum(row["mustSucceedFailed"] for row in live_outcomes)
        assert must_failed > 0
        assert rules[ACTION_RULE] == {"MGN Post-Launch Action": must_failed}
        fired = {rule: events for rule, events in rules.items() if events}
        assert any(event in FAILURES for events in fired.values() for event in events)
        assert alerts["messages"] == sum(sum(events.values()) for events in fired.values())
        assert any(f in alerts["firstMessage"] for f in FAILURES)
        assert wave["account"] in alerts["firstMessage"]
        subjects = alerts["subjects"]
        assert sum(s.startswith("MGN cutover finished: ") for s in subjects) == len(failed_cutovers)
        assert sum(s.startswith("MGN post-launch action failed: ") for s in subjects) == must_failed
        assert all(wave["wave"] in s for s in subjects)
        assert "FailedCutoverOutcomeRule" in output and "MGN cutover finished: " in output

        # The live wave's servers are named in MGN (a wave of its own after the programme's,
        # hostnames of their own), so its events and alerts name them.
        hostnames = set(wave["servers"].values())
        assert wave["wave"] == "Wave 4 - Live" and all(hostnames)
        assert f"Wave: {wave['wave']}" in alerts["firstMessage"]
        assert any(f"Server: {hostname} " in alerts["firstMessage"] for hostname in hostnames)
        _check_the_wave_view(report, output)

        # The endpoints stay up for the AWS CLI or boto3.
        kwargs: dict[str, Any] = {
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        rules = boto3.client("events", endpoint_url=moto_url, **kwargs).list_rules(
            EventBusName=bus
        )["Rules"]
        assert len(rules) == len(report["alerts"]["rules"]) + 1  # + the sandbox's capture
        assert worker == report["functions"]["worker"]["name"]
        lambda_client = boto3.client("lambda", endpoint_url=moto_url, **kwargs)
        (mapping,) = lambda_client.list_event_source_mappings(FunctionName=worker)[
            "EventSourceMappings"
        ]
        assert mapping["ScalingConfig"] == {"MaximumConcurrency": 8}
        jobs = boto3.client("mgn", endpoint_url=mgn_url, **kwargs).describe_jobs(filters={})
        assert "items" in jobs

        # The schedule goes on, and a rule of one's own built as printed gets the live wave's
        # events as they come.
        put_rule = sandbox.expect(r"events put-rule .*--event-pattern '(.+)'$", timeout=30)
        received = _rule_receives(moto_url, bus, json.loads(put_rule.group(1)))
        assert received and all(d["wave"]["name"] == wave["wave"] for d in received)
        assert all(d["sourceServer"]["hostname"] in hostnames for d in received)
        assert all(d["backfill"] is False for d in received)
        sandbox.expect(KEPT_TICK_ROW, timeout=60)
    finally:
        returncode, stderr = sandbox.interrupt()
    assert returncode == 0, stderr
    assert "Traceback" not in stderr
    assert any(line.startswith("Kept running for ") for line in sandbox.lines)
    assert sandbox.lines[-1] == "Stopping moto and the MGN emulator."


def _check_the_wave_view(report: dict[str, Any], output: str) -> None:
    """The per-wave view adds up to what reached the sinks."""
    rows = {row["wave"]: row for row in report["waves"]}
    items = report["busItems"]
    assert sum(row["onBus"] for row in rows.values()) == items["live"] + items["backfill"]
    assert all(row["onBus"] == row["inLogGroup"] for row in rows.values())
    live = rows[report["liveWave"]["wave"]]
    assert live["live"] == live["onBus"] > 0 and live["accounts"] == 1
    assert live["servers"] == len(report["liveWave"]["servers"])
    assert rows["(no wave)"]["withoutWave"]["job items naming no server"] > 0
    named = [row for name, row in rows.items() if name.startswith("Wave ")]
    assert len(named) >= 2 and sum(row["failedSteps"] for row in named) > 0
    assert "Per wave at the end" in output
    assert re.search(r"^\s+Wave 4 - Live\s+1\s+\d+\s+\d+\s", output, re.MULTILINE)
    assert "an enriched event (" in output and '"hostname":"' in output


def _rule_receives(moto_url: str, bus: str, pattern: dict[str, Any]) -> list[dict[str, Any]]:
    """Make the printed rule (an SQS queue as its target) and wait for what it delivers."""
    sqs = boto3.client("sqs", endpoint_url=moto_url, **CREDENTIALS)
    events = boto3.client("events", endpoint_url=moto_url, **CREDENTIALS)
    queue_url = sqs.create_queue(QueueName="e2e-wave-watch")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(Name="e2e-wave-watch", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule="e2e-wave-watch", EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}]
    )
    deadline = time.monotonic() + RULE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2
        ).get("Messages", [])
        if messages:
            return [json.loads(m["Body"])["detail"] for m in messages]
    return []


def test_keep_running_for_some_ticks_lays_the_live_wave_and_exits(
    cdk_out: Path, tmp_path: Path
) -> None:
    """With one tick, the run has no live wave: the ticks after the report lay it."""
    if not (cdk_out / "manifest.json").is_file():
        synthesize(cdk_out)
    report_path = tmp_path / "report.json"
    sandbox = Sandbox(
        *SMALL_WORLD[:4],
        "--ticks",
        "1",
        "--seed",
        "7",
        "--cdk-out",
        str(cdk_out),
        "--skip-synth",
        "--json-report",
        str(report_path),
        "--keep-running",
        "--keep-running-every",
        "5",
        "--keep-running-ticks",
        "2",
        stderr=tmp_path / "stderr.txt",
    )
    returncode, stderr = sandbox.wait(timeout=300)
    assert returncode == 0, stderr
    assert "Traceback" not in stderr
    output = "\n".join(sandbox.lines)
    report: dict[str, Any] = json.loads(report_path.read_text())
    kept = report["keptRunning"]
    assert [tick["label"] for tick in kept["ticks"]] == ["2", "3"]
    # One tick shows the whole programme: no grace needed. After it, a round of the wave takes
    # two intervals from the tick before the one that lays it: the grace is one more.
    assert report["ticks"][0]["graceSeconds"] == 0
    assert [tick["graceSeconds"] for tick in kept["ticks"]] == [15, 15]
    assert [m.group(1) for m in re.finditer(KEPT_TICK_ROW, output, re.MULTILINE)] == ["2", "3"]
    for tick in kept["ticks"]:
        assert tick["dispatch"]["ok"] and tick["dispatch"]["accountsDispatched"] == 3
        assert all(b["ok"] and b["logged"] for b in tick["batches"])
    # The first tick laid the wave (its account had been exported), and showed its start.
    assert kept["waveRounds"] and kept["ticks"][0]["itemsExported"] > 0
    assert kept["itemsExported"] == sum(t["itemsExported"] for t in kept["ticks"])
    jobs = [job for laid in kept["waveRounds"] for job in laid]
    assert len(jobs) == len(set(jobs)) == 2 * len(kept["waveRounds"])
    assert "live wave, round 1: 2 jobs" in output and 'MGN wave "Wave 4 - Live"' in output
    assert "Kept running for 2 ticks: " in output
    assert sandbox.lines[-1] == "Stopping moto and the MGN emulator."


def test_ctrl_c_mid_run_stops_everything_without_a_traceback(cdk_out: Path, tmp_path: Path) -> None:
    if not (cdk_out / "manifest.json").is_file():
        synthesize(cdk_out)
    sandbox = Sandbox("--cdk-out", str(cdk_out), "--skip-synth", stderr=tmp_path / "stderr.txt")
    sandbox.expect(r"^\s+tick\s+simulated", timeout=120)
    returncode, stderr = sandbox.interrupt()
    assert returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "Interrupted" in sandbox.lines[-1]
    assert not any("Exactly once" in line for line in sandbox.lines)
