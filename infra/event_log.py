"""The event log group: one JSON line per exported item, and the saved queries on it."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


@dataclass(frozen=True)
class SavedQuery:
    construct_id: str
    title: str
    query: str


# Each log line is the event's Detail object, so Logs Insights discovers its keys as fields
# (accountID, eventData.rawError, ...). @timestamp is the item's logDateTime: the exporter
# writes each log event with that time (unless CloudWatch Logs would refuse one that old).
# Queries have no time range of their own; the console's picker sets it (the titles say which
# range they are meant for).
SAVED_QUERIES: tuple[SavedQuery, ...] = (
    SavedQuery(
        "FailuresByAccountAndServer",
        "Failures by account and server (last 24 hours)",
        "fields @timestamp, accountID, eventData.sourceServerID, jobID, event\n"
        '| filter severity = "ERROR" and not ispresent(detailType)\n'
        "| stats count(*) as failures, count_distinct(jobID) as jobs, latest(event) as lastEvent,"
        " latest(logDateTime) as lastFailureAt by accountID, eventData.sourceServerID\n"
        "| sort failures desc",
    ),
    SavedQuery(
        "JobTimeline",
        "One job's timeline (set the jobID)",
        "fields logDateTime, position, event, severity, eventData.sourceServerID,"
        " eventData.targetInstanceID, eventData.attemptCount, eventData.rawError\n"
        '| filter jobID = "mgnjob-00000000000000000"\n'
        "| sort position asc\n"
        "| limit 10000",
    ),
    # Durations come from the exporter's durationSeconds (an end or failure item's time less
    # its start's, from MGN's logDateTime), never from @timestamp: an item too old for
    # CloudWatch Logs is written with a newer @timestamp.
    SavedQuery(
        "ConversionDurations",
        "Conversion step durations per server",
        'filter event in ["CONVERSION_END", "CONVERSION_FAIL"] and ispresent(durationSeconds)\n'
        "| stats sum(durationSeconds) as seconds, count(*) as attempts, latest(event) as outcome,"
        " latest(logDateTime) as endedAt by accountID, jobID, eventData.sourceServerID\n"
        "| sort seconds desc",
    ),
    SavedQuery(
        "StepDurations",
        "Step durations by step and initiatedBy",
        "filter ispresent(durationSeconds)\n"
        "| stats count(*) as steps, avg(durationSeconds) as avgSeconds,"
        " pct(durationSeconds, 90) as p90Seconds, max(durationSeconds) as maxSeconds"
        " by event, initiatedBy\n"
        "| sort maxSeconds desc",
    ),
    SavedQuery(
        "JobDurations",
        "Job durations (JOB_START to JOB_END), longest first",
        'filter event = "JOB_END" and ispresent(durationSeconds)\n'
        "| fields logDateTime, accountID, jobID, initiatedBy, durationSeconds\n"
        "| sort durationSeconds desc",
    ),
    SavedQuery(
        "TopRawErrors",
        "Most common rawError values",
        "filter ispresent(eventData.rawError)\n"
        "| stats count(*) as occurrences, count_distinct(accountID) as accounts,"
        " count_distinct(eventData.sourceServerID) as servers, latest(event) as lastEvent"
        " by eventData.rawError\n"
        "| sort occurrences desc\n"
        "| limit 25",
    ),
    SavedQuery(
        "FailedStepsPerWave",
        "Failed steps per wave (last 7 days)",
        'filter severity = "ERROR" and not ispresent(detailType)\n'
        "| stats count(*) as failures, count_distinct(eventData.sourceServerID) as servers,"
        " count_distinct(application.name) as applications, latest(logDateTime) as lastFailureAt"
        " by wave.name, event\n"
        "| sort failures desc",
    ),
    SavedQuery(
        "ConversionFailuresByApplication",
        "Conversion failures by application (last 7 days)",
        'filter event = "CONVERSION_FAIL"\n'
        "| stats count(*) as failures, count_distinct(sourceServer.hostname) as servers,"
        " latest(eventData.rawError) as lastError by application.name, wave.name\n"
        "| sort failures desc",
    ),
    SavedQuery(
        "CutoverProgressByWave",
        "Cutover launches per wave: servers launched and failed (last 7 days)",
        'filter initiatedBy = "START_CUTOVER" and event in ["LAUNCH_START", "LAUNCH_FAILED"]\n'
        "| stats count_distinct(eventData.sourceServerID) as servers by wave.name, event\n"
        "| sort wave.name asc, event asc",
    ),
    SavedQuery(
        "WaveCutoverProgress",
        "One wave's cutover: servers launched and failed (set the wave name)",
        'filter wave.name = "Wave 1" and initiatedBy = "START_CUTOVER"'
        ' and event in ["LAUNCH_START", "LAUNCH_FAILED", "CLEANUP_END"]\n'
        "| stats count_distinct(eventData.sourceServerID) as servers,"
        " latest(logDateTime) as lastAt by event, application.name\n"
        "| sort application.name asc, event asc",
    ),
    SavedQuery(
        "ItemsPerAccountPerHour",
        "Items per account per hour",
        "filter not ispresent(detailType)\n"
        "| stats count(*) as items by accountID, bin(1h) as hour\n"
        "| sort hour desc",
    ),
    # The derived events' lines carry detailType (a job log item's line has none).
    SavedQuery(
        "JobOutcomes",
        "Job outcomes: servers launched and failed, post-launch actions (last 7 days)",
        'filter detailType = "MGN Job Outcome"\n'
        "| fields endDateTime, accountID, jobID, initiatedBy, serversLaunched, serversFailed,"
        " postLaunchActions.failed, postLaunchActions.mustSucceedFailed, durationSeconds\n"
        "| sort endDateTime desc",
    ),
    SavedQuery(
        "FailedPostLaunchActions",
        "Failed post-launch actions by action and wave (last 7 days)",
        'filter detailType = "MGN Post-Launch Action" and status = "FAILED"\n'
        "| stats count(*) as failures, count_distinct(sourceServerID) as servers,"
        " latest(postLaunchAction.failureReason) as lastReason"
        " by postLaunchAction.actionName, postLaunchAction.mustSucceedForCutover, wave.name\n"
        "| sort failures desc",
    ),
)


# Shown on the dashboard too, over the dashboard's time range (monitoring.py).
WAVE_DASHBOARD_QUERIES = ("FailedStepsPerWave", "CutoverProgressByWave")


def saved_query(construct_id: str) -> SavedQuery:
    (found,) = (saved for saved in SAVED_QUERIES if saved.construct_id == construct_id)
    return found


class EventLogGroup(Construct):
    """The log group the exporter writes one JSON line per item to, plus saved queries.

    The group is the audit trail (a year of every item by default), so `cdk destroy` keeps it;
    its name must then be unique per stack instance (infra/naming.py), or the next deploy of
    the stack would fail on it ("already exists").
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_group_name: str,
        retention: logs.RetentionDays,
        kms_key_arn: str | None,
        query_folder: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # A customer key is optional: the group is always encrypted at rest by CloudWatch Logs,
        # and a key of the user's own needs a key policy that lets the logs service use it.
        encryption_key = (
            kms.Key.from_key_arn(self, "EncryptionKey", kms_key_arn) if kms_key_arn else None
        )
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=log_group_name,
            retention=retention,
            encryption_key=encryption_key,
            # Kept by `cdk destroy` and on replacement; docs/remove.md says how to delete it.
            removal_policy=RemovalPolicy.RETAIN,
        )
        # The L1 resource keeps each query verbatim; the L2 QueryString builder reorders commands.
        self.queries = [
            logs.CfnQueryDefinition(
                self,
                saved.construct_id,
                name=f"{query_folder}/{saved.title}",
                query_string=saved.query,
                log_group_names=[self.log_group.log_group_name],
            )
            for saved in SAVED_QUERIES
        ]

    def grant_write_events(self, grantee: iam.IGrantable) -> iam.Grant:
        """CreateLogStream and PutLogEvents on this group and its streams, nothing else."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            # The group's Arn attribute ends in ":*", which covers its log streams.
            resource_arns=[self.log_group.log_group_arn],
        )
