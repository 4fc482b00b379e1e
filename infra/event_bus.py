"""The custom event bus, its optional archive, and the example alert rules users copy."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import constants as c
from infra.messaging import dead_letter_queue, encrypted_topic
from mgn_exporter.derived_events import JOB_OUTCOME, POST_LAUNCH_ACTION

# Every alert rule matches live items only. The first run of an account (or a new account)
# reads `backfillDays` of history, and the exporter marks those items `backfill: true`: without
# this filter the first deploy would page people for a week of old failures. The field is in
# every event, so [false] never drops a live item. A job sent again on request carries
# `replay: true` (and live ones no `replay`): it pages nobody a second time.
LIVE_ITEMS_ONLY: dict[str, Any] = {"backfill": [False], "replay": [{"exists": False}]}


def cutover_launch_failure_detail() -> dict[str, Any]:
    """Detail filter of the cutover launch failure rule."""
    return {"event": ["LAUNCH_FAILED"], "initiatedBy": ["START_CUTOVER"], **LIVE_ITEMS_ONLY}


def failed_cutover_outcome_detail() -> dict[str, Any]:
    """Detail filter of the rule on a cutover job that completed with servers that failed."""
    return {
        "initiatedBy": ["START_CUTOVER"],
        "serversFailed": [{"numeric": [">", 0]}],
        **LIVE_ITEMS_ONLY,
    }


def failed_required_action_detail() -> dict[str, Any]:
    """Detail filter of the rule on a failed post-launch action that must succeed for
    cutover (in any job: a test launch shows what the cutover would meet)."""
    return {
        "status": ["FAILED"],
        "postLaunchAction": {"mustSucceedForCutover": [True]},
        **LIVE_ITEMS_ONLY,
    }


def error_items_detail() -> dict[str, Any]:
    """Detail filter of the ERROR-severity rule (SNAPSHOT_FAIL, CONVERSION_FAIL, ...), less what
    the cutover rule takes: one item, one alert. `initiatedBy` is null for a job DescribeJobs
    did not describe, which `anything-but` may not match, so null is named on its own."""
    return {
        "severity": ["ERROR"],
        **LIVE_ITEMS_ONLY,
        "$or": [
            {"event": [{"anything-but": ["LAUNCH_FAILED"]}]},
            {"initiatedBy": [{"anything-but": ["START_CUTOVER"]}]},
            {"initiatedBy": [None]},
        ],
    }


class ExporterEventBus(Construct):
    """Custom bus for the exporter's events, with an archive and two example alert rules.

    The rules (`add_alert_rules`) hand the matched event to the alert function, which writes it
    for people and publishes it to ``alert_topic``; events EventBridge could not hand over park
    in ``alert_dlq``. Each live item matches one rule at most: the broad one (any ERROR) leaves
    the narrow one's (a cutover launch failure) alone.

    The archive is part of the audit trail, so `cdk destroy` keeps it, and keeps the bus with
    it: the archive has a rule on the bus (EventBridge deletes a bus only once it has no rules),
    and an archive replays only to the bus it was created on. Their names must therefore be
    unique per stack instance (infra/naming.py), or the next deploy would meet them.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus_name: str,
        archive_name: str,
        event_source: str,
        archive_enabled: bool,
        archive_retention_days: int,
        topic_key: kms.IKey,
        alert_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.event_source = event_source
        self.bus = events.EventBus(self, "Bus", event_bus_name=bus_name)
        self.bus_name: str = self.bus.event_bus_name

        self.archive: events.Archive | None = None
        if archive_enabled:
            self.archive = self.bus.archive(
                "Archive",
                # Named after the bus so replay instructions can name it (and generated names
                # can exceed the 48-character limit); the ArchiveName output gives it.
                archive_name=archive_name,
                description=f"Replayable copy of {event_source} events",
                event_pattern=events.EventPattern(source=[event_source]),
                # None renders RetentionDays 0: EventBridge keeps the events indefinitely.
                retention=(
                    Duration.days(archive_retention_days) if archive_retention_days else None
                ),
            )
            self.archive.apply_removal_policy(RemovalPolicy.RETAIN)
            self.bus.apply_removal_policy(RemovalPolicy.RETAIN)

        self.alert_topic = encrypted_topic(
            self,
            "AlertTopic",
            key=topic_key,
            display_name="MGN job log alerts",
            email=alert_email,
        )
        self.alert_dlq = dead_letter_queue(
            self, "AlertDeliveryDlq", holds="alert rule deliveries EventBridge could not make"
        )

    def add_alert_rules(self, alert_function: lambda_.IFunction) -> None:
        """The example rules, each into `alert_function`: two on job log items, two on
        derived events."""
        self.error_items_rule = self._alert_rule(
            "ErrorItemsRule",
            description="Any ERROR-severity MGN job log item (SNAPSHOT_FAIL, CONVERSION_FAIL, "
            "LAUNCH_FAILED, CLEANUP_FAIL) but a cutover launch failure (its own rule)",
            detail=error_items_detail(),
            target=alert_function,
        )
        self.cutover_launch_failure_rule = self._alert_rule(
            "CutoverLaunchFailureRule",
            description="LAUNCH_FAILED in a cutover job (START_CUTOVER)",
            detail=cutover_launch_failure_detail(),
            target=alert_function,
        )

        self.failed_cutover_outcome_rule = self._alert_rule(
            "FailedCutoverOutcomeRule",
            description="A cutover job completed with servers that failed to launch "
            "(MGN Job Outcome)",
            detail=failed_cutover_outcome_detail(),
            target=alert_function,
            detail_type=JOB_OUTCOME,
        )
        self.failed_required_action_rule = self._alert_rule(
            "FailedRequiredPostLaunchActionRule",
            description="A post-launch action that must succeed for cutover failed "
            "(MGN Post-Launch Action)",
            detail=failed_required_action_detail(),
            target=alert_function,
            detail_type=POST_LAUNCH_ACTION,
        )

    @property
    def rules(self) -> Sequence[events.Rule]:
        return (
            self.error_items_rule,
            self.cutover_launch_failure_rule,
            self.failed_cutover_outcome_rule,
            self.failed_required_action_rule,
        )

    def event_pattern(
        self, detail: Mapping[str, Any], detail_type: str = c.DETAIL_TYPE
    ) -> dict[str, Any]:
        return {"source": [self.event_source], "detail-type": [detail_type], "detail": detail}

    def _alert_rule(
        self,
        construct_id: str,
        *,
        description: str,
        detail: Mapping[str, Any],
        target: lambda_.IFunction,
        detail_type: str = c.DETAIL_TYPE,
    ) -> events.Rule:
        rule = events.Rule(
            self,
            construct_id,
            event_bus=self.bus,
            description=description,
            # Placeholder: the pattern is set below as JSON text.
            event_pattern=events.EventPattern(source=[self.event_source]),
        )
        # As JSON text, as CloudFormation takes a pattern with null in it (its object syntax
        # refuses null, and the CDK drops None from an object pattern).
        cfn_rule = cast(events.CfnRule, rule.node.default_child)
        cfn_rule.add_property_override(
            "EventPattern", json.dumps(self.event_pattern(detail, detail_type))
        )
        rule.add_target(
            targets.LambdaFunction(
                target,
                dead_letter_queue=self.alert_dlq,
                # An alert older than a day is noise; let it land in the DLQ instead.
                max_event_age=Duration.hours(24),
                retry_attempts=20,
            )
        )
        return rule

    def grant_put_events(self, grantee: iam.IGrantable) -> iam.Grant:
        """events:PutEvents on this bus only."""
        return self.bus.grant_put_events_to(grantee)
