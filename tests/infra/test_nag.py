"""cdk-nag AwsSolutions: zero unsuppressed findings, every suppression deliberate and justified."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks

from infra.application import findings
from tests.infra.conftest import Synth

# Rule -> the resources (construct path suffixes) allowed to suppress it. A new suppression
# must be added here on purpose, next to its reason in the code.
EXPECTED_SUPPRESSIONS = {
    # X-Ray's '*' in each function's default policy, MGN's in each function's own policy.
    ("AwsSolutions-IAM5", "Dispatcher/Role/DefaultPolicy/Resource"),
    ("AwsSolutions-IAM5", "Dispatcher/MgnReadPolicy/Resource"),
    ("AwsSolutions-IAM5", "Worker/Role/DefaultPolicy/Resource"),
    ("AwsSolutions-IAM5", "Worker/MgnReadPolicy/Resource"),
    # The job ARNs of every account (global view) for mgn:DescribeJobLogItems.
    ("AwsSolutions-IAM5", "Worker/MgnJobLogPolicy/Resource"),
    ("AwsSolutions-L1", "Dispatcher/Function/Resource"),
    ("AwsSolutions-L1", "Worker/Function/Resource"),
    ("AwsSolutions-L1", "Alerts/Function/Resource"),
    # X-Ray's '*', and kms:GenerateDataKey* on the alert topic's key.
    ("AwsSolutions-IAM5", "Alerts/Role/DefaultPolicy/Resource"),
    # Dead-letter queues need no dead-letter queue of their own.
    ("AwsSolutions-SQS3", "Dispatcher/AsyncFailureQueue/Resource"),
    ("AwsSolutions-SQS3", "WorkQueue/DeadLetterQueue/Resource"),
    ("AwsSolutions-SQS3", "Events/AlertDeliveryDlq/Resource"),
}


# How cdk-nag names the job ARN pattern arn:${Partition}:mgn:${Region}:*:job/*.
MGN_JOB_ARNS_FINDING = "Resource::arn:<AWS::Partition>:mgn:<AWS::Region>:*:job/*"


def test_app_synth_has_no_unsuppressed_findings(synth: Synth) -> None:
    assert synth.findings == []
    assert synth.returncode == 0


def _suppressions(synth: Synth) -> list[tuple[str, str, dict[str, Any]]]:
    paths = synth.paths
    found = []
    for logical_id, resource in synth.template_json["Resources"].items():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            found.append((rule["id"], paths[logical_id], rule))
    return found


def test_every_suppression_is_expected_and_justified(synth: Synth) -> None:
    suppressions = _suppressions(synth)
    actual = {
        (rule_id, expected_path)
        for rule_id, path, _ in suppressions
        for candidate_id, expected_path in EXPECTED_SUPPRESSIONS
        if candidate_id == rule_id and path.endswith(expected_path)
    }
    assert actual == EXPECTED_SUPPRESSIONS
    # The alert function's default policy holds two (X-Ray, the topic key); the others one.
    assert len(suppressions) == len(EXPECTED_SUPPRESSIONS) + 1
    for rule_id, path, rule in suppressions:
        assert len(rule["reason"]) >= 60, (rule_id, path)
        if rule_id == "AwsSolutions-IAM5":
            # Scoped to the wildcards named here only: any other would still be reported.
            expected = (
                [[MGN_JOB_ARNS_FINDING]]
                if path.endswith("Worker/MgnJobLogPolicy/Resource")
                else [["Resource::*"], ["Action::kms:GenerateDataKey*"]]
                if path.endswith("Alerts/Role/DefaultPolicy/Resource")
                else [["Resource::*"]]
            )
            assert rule["applies_to"] in expected, path


def test_the_nag_report_is_written_with_the_assembly(synth: Synth) -> None:
    report = next(synth.outdir.glob("AwsSolutions-*NagReport.csv")).read_text(encoding="utf-8")
    assert ',"Non-Compliant",' not in report


def test_an_unsuppressed_finding_fails_the_check(tmp_path: Any) -> None:
    # The same check app.py applies, on a queue that breaks AwsSolutions-SQS3/SQS4.
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Bad")
    sqs.Queue(stack, "Queue")
    cdk.Aspects.of(app).add(AwsSolutionsChecks())
    found = findings(app.synth())
    assert any("AwsSolutions-SQS3" in f.message for f in found)
    assert any("AwsSolutions-SQS4" in f.message for f in found)
