"""Run the fault suite from the command line: one summary line per scenario.

    .venv/bin/python -m local.faultsuite            # the full set (what docs/guarantees.md shows)
    .venv/bin/python -m local.faultsuite --quick    # CI's quick subset, same checks, smaller worlds
    .venv/bin/python -m local.faultsuite --seed 11 crash overlap

Then the stack's alarms, evaluated over what each scenario's functions emitted (one tick for
one period; synthesized from app.py, skip with --no-alarms): which fired, and at which tick.

Exits 1 if any scenario lost an item, went over its duplicate bound, overran a deadline or
failed another of its checks (printed under its line).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from local.faultsuite.alarms import evaluate_observed, table, template_alarms
from local.faultsuite.cloud import moto_server
from local.faultsuite.ledger import Result
from local.faultsuite.scenarios import BY_NAME, SCENARIOS, Options
from local.sandbox.synth import synthesize


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.faultsuite", description=__doc__)
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"any of: {', '.join(BY_NAME)}"
    )
    parser.add_argument("--quick", action="store_true", help="CI's smaller worlds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None, help="exporter logs go here")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--no-alarms", action="store_true", help="skip the alarm table")
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in BY_NAME]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(BY_NAME)}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="faultsuite-"))
    chosen = [BY_NAME[name] for name in args.scenarios] or SCENARIOS
    results = []
    with moto_server() as moto_url:
        for scenario in chosen:
            options = Options(moto_url, args.seed, full=not args.quick, workdir=workdir)
            for result in scenario.run(options):
                results.append(result)
                print(result.line(), flush=True)
                for problem in result.problems:
                    print(f"  FAILED: {problem}", flush=True)
    if not args.no_alarms:
        print_alarm_table(results, workdir)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    print(f"exporter logs: {workdir}", file=sys.stderr)
    return 0 if all(result.ok for result in results) else 1


def print_alarm_table(results: list[Result], workdir: Path) -> None:
    outdir = workdir / "cdk.out"
    synthesize(outdir)
    (template_path,) = outdir.glob("*.template.json")
    alarms = template_alarms(json.loads(template_path.read_text()))
    rows = {result.scenario: evaluate_observed(alarms, result.observed) for result in results}
    print("\nalarms: the tick at which each fired ('.': quiet), one tick standing for one period")
    print("(time-valued and AWS-side metrics: tests/infra/test_alarm_behaviour.py)")
    for line in table(rows):
        print(line)


if __name__ == "__main__":
    sys.exit(main())
