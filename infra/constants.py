"""Names, fixed values and context defaults shared by the stack, app.py and the tests.

Anything a user may want to change is a cdk.json context key (see ``CONTEXT_DEFAULTS``); the
rest is part of the contract with the Lambda code and is fixed here so both sides agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from mgn_exporter import checkpoint_store, derived_events, events

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
LAMBDA_SRC_DIR: Final = REPO_ROOT / "lambda_src"
SCHEMA_FILE: Final = REPO_ROOT / "schema" / "mgn-job-log-event.schema.json"
# Every published Detail schema, by DetailType (the derived events' too).
SCHEMA_FILES: Final = {
    events.DETAIL_TYPE: SCHEMA_FILE,
    derived_events.JOB_OUTCOME: REPO_ROOT / "schema" / "mgn-job-outcome.schema.json",
    derived_events.POST_LAUNCH_ACTION: REPO_ROOT / "schema" / "mgn-post-launch-action.schema.json",
}
CDK_JSON_FILE: Final = REPO_ROOT / "cdk.json"

STACK_NAME: Final = "MgnJobLogExporter"
STACK_DESCRIPTION: Final = (
    "MGN job log exporter: MGN job log items to EventBridge events and CloudWatch Logs"
)

# --- the two functions --------------------------------------------------------------------------
# The dispatcher is the schedule's target: it only lists the accounts and enqueues one work request
# per account (one SendMessageBatch per ten), so a minute is ample even for a large organization.
DISPATCHER_HANDLER: Final = "mgn_exporter.dispatcher_handler.handler"
DISPATCHER_TIMEOUT_SECONDS: Final = 60
DISPATCHER_MEMORY_MB: Final = 256
# A failed dispatch is retried (Lambda's async retries, and EventBridge's if the invoke itself
# failed): a retry carries the same Scheduled Event, whose `time` the code puts into each
# request's deduplication ID, so SQS drops the requests the failed attempt did send. Retries
# stop before SQS's deduplication window closes (infra.dispatcher.dispatch_max_event_age).
DISPATCHER_RETRY_ATTEMPTS: Final = 2
SQS_DEDUPLICATION_WINDOW_SECONDS: Final = 300
# The worker exports the accounts of one SQS batch. Placeholders until the benchmark exists; they
# will be set from its figures. The worker leaves DEADLINE_MARGIN_SECONDS of headroom inside this
# timeout, then hands the rest of a backlog on to a continuation request.
WORKER_HANDLER: Final = "mgn_exporter.worker_handler.handler"
ALERT_HANDLER: Final = "mgn_exporter.alert_handler.handler"
ALERT_TIMEOUT_SECONDS: Final = 30
ALERT_MEMORY_MB: Final = 256
WORKER_TIMEOUT_SECONDS: Final = 300
WORKER_MEMORY_MB: Final = 512
# Paths the asset hashing and zip must skip: caches would change the hash on every test run.
ASSET_EXCLUDES: Final = (
    "**/__pycache__",
    "**/*.pyc",
    "**/*.pyo",
    "**/.pytest_cache",
    "**/.mypy_cache",
    "**/.ruff_cache",
    "**/*.egg-info",
    "**/.DS_Store",
)

# AWS-managed Powertools for AWS Lambda (Python) v3 layer (python3.12, arm64). It brings
# aws-lambda-powertools and aws-xray-sdk (the tracer extra); boto3 comes from the runtime.
# Version 27 is the current one in the Powertools docs as of this writing; override with the
# `powertoolsLayerVersion` context key rather than editing this.
POWERTOOLS_LAYER_ACCOUNT: Final = "017000801446"
POWERTOOLS_LAYER_NAME: Final = "AWSLambdaPowertoolsPythonV3-python312-arm64"
POWERTOOLS_LAYER_VERSION: Final = 27
# Where the stack deploys: the Regions where the Powertools docs (docs/includes/
# _layer_homepage_arm64.md) list that layer, less those where a resource type of the stack does
# not exist. Account 017000801446 publishes in the commercial partition only (China and GovCloud
# have other publisher accounts and layer versions, which this project does not test), and the
# arm64 layer is missing from some commercial Regions that have the x86_64 one (ca-west-1). The
# CDK's CloudFormation validation (a test synthesizes every Region listed here) finds no
# EventBridge schema registry in ap-south-2, ap-southeast-4, ap-southeast-5, ap-southeast-7,
# il-central-1 and mx-central-1, which have the layer. The stack does not claim any of those: an
# explicit Region outside this list fails the synth, and an environment-agnostic template cannot
# resolve the layer there (infra/regions.py).
SUPPORTED_REGIONS: Final = (
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ca-central-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "me-central-1",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)

# --- the event contract ----------------------------------------------------------------------
# The contract's constants come from the code that builds the events: one source of truth.
DETAIL_TYPE: Final = events.DETAIL_TYPE
SCHEMA_VERSION: Final = events.SCHEMA_VERSION
ERROR_EVENTS: Final = tuple(sorted(events.ERROR_EVENTS))
WARNING_EVENTS: Final = tuple(sorted(events.WARNING_EVENTS))
# Every value of JobLog.event in the MGN API, for checking saved queries and fixtures.
MGN_EVENTS: Final = events.MGN_EVENTS
MGN_EVENT_DATA_KEYS: Final = events.EVENT_DATA_KEYS
SCHEMA_REGISTRY_DESCRIPTION: Final = "Events published by the MGN job log exporter"

# --- environment variable names the functions read (fixed by the Lambda code) --------------
ENV_EVENT_BUS_NAME: Final = "EVENT_BUS_NAME"
ENV_EVENT_SOURCE: Final = "EVENT_SOURCE"
ENV_EVENT_LOG_GROUP_NAME: Final = "EVENT_LOG_GROUP_NAME"
ENV_CHECKPOINT_TABLE_NAME: Final = "CHECKPOINT_TABLE_NAME"
ENV_ACCOUNTS: Final = "ACCOUNTS"
ENV_BACKFILL_DAYS: Final = "BACKFILL_DAYS"
ENV_DISCOVERY_OVERLAP_MINUTES: Final = "DISCOVERY_OVERLAP_MINUTES"
ENV_DEADLINE_MARGIN_SECONDS: Final = "DEADLINE_MARGIN_SECONDS"
ENV_WORK_QUEUE_URL: Final = "WORK_QUEUE_URL"
ENV_RETRY_BACKOFF_SECONDS: Final = "RETRY_BACKOFF_SECONDS"
ENV_ENRICHMENT_REFRESH_MINUTES: Final = "ENRICHMENT_REFRESH_MINUTES"
ENV_COMPLETED_JOB_GRACE_MINUTES: Final = "COMPLETED_JOB_GRACE_MINUTES"
ENV_POST_LAUNCH_WAIT_MINUTES: Final = "POST_LAUNCH_WAIT_MINUTES"
ENV_ALERT_TOPIC_ARN: Final = "ALERT_TOPIC_ARN"
# A failed work request comes back after 30 s, then 60, 120, 240: with the default
# maxReceiveCount of 5 an account that keeps failing reaches the DLQ in about 7.5 minutes
# instead of holding its message group for 5 visibility timeouts (2.5 hours).
WORKER_RETRY_BACKOFF_SECONDS: Final = 30

# --- checkpoint table (fixed by the Lambda code) ---------------------------------------------
TABLE_PARTITION_KEY: Final = checkpoint_store.PARTITION_KEY
TABLE_TTL_ATTRIBUTE: Final = checkpoint_store.TTL_ATTRIBUTE
# Exactly what mgn_exporter/checkpoint_store.py calls (a test reads its syntax tree): every
# export's read and write is a conditional UpdateItem (ALL_NEW returns the state with the
# lease); a replay reads when the account's export began with a GetItem and writes nothing. No
# PutItem, DeleteItem or Query.
TABLE_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:UpdateItem")

# --- MGN: the read-only actions each function calls ----------------------------------------
# The dispatcher resolves `accounts: auto` (global view); the worker reads the accounts' jobs.
# Per the service authorization reference (list_mgn.html), ListManagedAccounts, DescribeJobs and
# the inventory reads that name events' servers, applications and waves (DescribeSourceServers,
# ListApplications, ListWaves) are List actions with no resource type (IAM requires "*");
# DescribeJobLogItems requires a job: arn:${Partition}:mgn:${Region}:${Account}:job/${JobID}.
DISPATCHER_MGN_ACTIONS: Final = ("mgn:ListManagedAccounts",)
WORKER_MGN_UNSCOPED_ACTIONS: Final = (
    "mgn:DescribeJobs",
    "mgn:DescribeSourceServers",
    "mgn:ListApplications",
    "mgn:ListWaves",
)
WORKER_MGN_JOB_ACTIONS: Final = ("mgn:DescribeJobLogItems",)
WORKER_MGN_ACTIONS: Final = WORKER_MGN_UNSCOPED_ACTIONS + WORKER_MGN_JOB_ACTIONS
MGN_ACTIONS: Final = DISPATCHER_MGN_ACTIONS + WORKER_MGN_ACTIONS

# --- the work queue (FIFO: one message group per account) ----------------------------------
# AWS's guidance for SQS event sources: a visibility timeout of at least six times the function
# timeout, so that a batch whose invocation Lambda retries (after a throttle, say) does not
# become visible again, and go to a second worker, while the first still holds it.
WORK_QUEUE_VISIBILITY_TIMEOUT_FACTOR: Final = 6
# What the code calls on the queue (SendMessageBatch is authorized as sqs:SendMessage). It has
# the queue's URL, so neither GetQueueUrl nor GetQueueAttributes is needed.
WORK_QUEUE_SEND_ACTIONS: Final = ("sqs:SendMessage",)
# ApproximateAgeOfOldestMessage alarm: the fan-out is this many schedule periods behind (at least
# WORK_QUEUE_AGE_ALARM_MIN_WORKER_TIMEOUTS worker timeouts, which a healthy queue can show when a
# tick's request waits behind a running export of the same account).
WORK_QUEUE_AGE_ALARM_SCHEDULE_PERIODS: Final = 3
WORK_QUEUE_AGE_ALARM_MIN_WORKER_TIMEOUTS: Final = 2

# --- metrics (EMF from Powertools; the `service` dimension is POWERTOOLS_SERVICE_NAME) -------
METRICS_NAMESPACE: Final = "MgnJobLogExporter"
METRIC_DIMENSION: Final = "service"
# The metrics' names: mgn_exporter.metric_names (the code counts and emits with them).
# Alarm when the longest run reaches this share of the timeout: the next item is a timeout.
DURATION_ALARM_FRACTION: Final = 0.8

# --- context keys and their defaults (cdk.json repeats them; a test keeps the two equal) ----
CTX_EVENT_BUS_NAME: Final = "eventBusName"
CTX_EVENT_SOURCE: Final = "eventSource"
CTX_EVENT_LOG_GROUP_NAME: Final = "eventLogGroupName"
CTX_DASHBOARD_NAME: Final = "dashboardName"
CTX_EVENT_LOG_RETENTION_DAYS: Final = "eventLogRetentionDays"
CTX_EVENT_LOG_KMS_KEY_ARN: Final = "eventLogKmsKeyArn"
CTX_FUNCTION_LOG_RETENTION_DAYS: Final = "functionLogRetentionDays"
CTX_SCHEDULE_RATE_MINUTES: Final = "scheduleRateMinutes"
CTX_ACCOUNTS: Final = "accounts"
CTX_BACKFILL_DAYS: Final = "backfillDays"
CTX_DISCOVERY_OVERLAP_MINUTES: Final = "discoveryOverlapMinutes"
CTX_DEADLINE_MARGIN_SECONDS: Final = "deadlineMarginSeconds"
CTX_ENRICHMENT_REFRESH_MINUTES: Final = "enrichmentRefreshMinutes"
CTX_COMPLETED_JOB_GRACE_MINUTES: Final = "completedJobGraceMinutes"
CTX_POST_LAUNCH_WAIT_MINUTES: Final = "postLaunchWaitMinutes"
CTX_LOG_LEVEL: Final = "logLevel"
CTX_SERVICE_NAME: Final = "serviceName"
CTX_ARCHIVE_ENABLED: Final = "archiveEnabled"
CTX_ARCHIVE_RETENTION_DAYS: Final = "archiveRetentionDays"
CTX_ALERT_EMAIL: Final = "alertEmail"
CTX_OPS_EMAIL: Final = "opsEmail"
# Optional chat delivery of the alert topic (infra/chat.py): a Slack channel and/or a Teams one.
CTX_CHAT_SLACK_WORKSPACE_ID: Final = "chatSlackWorkspaceId"
CTX_CHAT_SLACK_CHANNEL_ID: Final = "chatSlackChannelId"
CTX_CHAT_TEAMS_TEAM_ID: Final = "chatTeamsTeamId"
CTX_CHAT_TEAMS_CHANNEL_ID: Final = "chatTeamsChannelId"
CTX_CHAT_TEAMS_TENANT_ID: Final = "chatTeamsTenantId"
CTX_STALENESS_ALARM_MINUTES: Final = "stalenessAlarmMinutes"
CTX_POWERTOOLS_LAYER_VERSION: Final = "powertoolsLayerVersion"
CTX_SDK_TRACING: Final = "sdkTracing"
CTX_WORKER_MAX_CONCURRENCY: Final = "workerMaxConcurrency"
CTX_WORKER_BATCH_SIZE: Final = "workerBatchSize"
CTX_WORKER_MAX_RECEIVE_COUNT: Final = "workerMaxReceiveCount"

CONTEXT_DEFAULTS: Final[dict[str, str | int | bool]] = {
    # Empty: derived from the stack name (infra/naming.py), so that a second stack fits in the
    # same account and Region.
    CTX_EVENT_BUS_NAME: "",
    CTX_EVENT_SOURCE: "mgn.joblog.exporter",
    CTX_EVENT_LOG_GROUP_NAME: "",
    CTX_DASHBOARD_NAME: "",
    CTX_EVENT_LOG_RETENTION_DAYS: 365,
    CTX_EVENT_LOG_KMS_KEY_ARN: "",
    CTX_FUNCTION_LOG_RETENTION_DAYS: 30,
    CTX_SCHEDULE_RATE_MINUTES: 5,
    CTX_ACCOUNTS: "auto",
    CTX_BACKFILL_DAYS: 7,
    CTX_DISCOVERY_OVERLAP_MINUTES: 60,
    CTX_DEADLINE_MARGIN_SECONDS: 10,
    CTX_ENRICHMENT_REFRESH_MINUTES: 15,
    CTX_COMPLETED_JOB_GRACE_MINUTES: 15,
    CTX_POST_LAUNCH_WAIT_MINUTES: 60,
    CTX_LOG_LEVEL: "INFO",
    CTX_SERVICE_NAME: "mgn-job-log-exporter",
    CTX_ARCHIVE_ENABLED: True,
    CTX_ARCHIVE_RETENTION_DAYS: 30,
    CTX_ALERT_EMAIL: "",
    CTX_OPS_EMAIL: "",
    CTX_CHAT_SLACK_WORKSPACE_ID: "",
    CTX_CHAT_SLACK_CHANNEL_ID: "",
    CTX_CHAT_TEAMS_TEAM_ID: "",
    CTX_CHAT_TEAMS_CHANNEL_ID: "",
    CTX_CHAT_TEAMS_TENANT_ID: "",
    CTX_STALENESS_ALARM_MINUTES: 30,
    CTX_POWERTOOLS_LAYER_VERSION: POWERTOOLS_LAYER_VERSION,
    CTX_SDK_TRACING: False,
    CTX_WORKER_MAX_CONCURRENCY: 8,
    CTX_WORKER_BATCH_SIZE: 10,
    CTX_WORKER_MAX_RECEIVE_COUNT: 5,
}
