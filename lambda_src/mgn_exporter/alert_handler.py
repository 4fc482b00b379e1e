"""The alert function's Lambda entry point: the alert rules' target. It writes the matched
event as a readable message (alert_text.py) and publishes it to the alert topic."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3

from mgn_exporter.alert_text import alert_text, sns_message
from mgn_exporter.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_sns import SNSClient

TOPIC_VARIABLE = "ALERT_TOPIC_ARN"


@lru_cache(maxsize=1)
def _sns() -> SNSClient:
    return boto3.client("sns")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    topic = os.environ[TOPIC_VARIABLE]
    subject, message = alert_text(event)
    detail = event.get("detail")
    event_id = detail.get("eventId") if isinstance(detail, dict) else None
    # A failed publish raises: Lambda retries the event, then parks it in the failure queue.
    response = _sns().publish(
        TopicArn=topic,
        Subject=subject,
        Message=sns_message(subject, message),
        MessageStructure="json",
    )
    logger.info(
        "Alert published",
        extra={
            "subject": subject,
            "eventId": event_id,
            "messageId": response.get("MessageId"),
        },
    )
    return {"messageId": str(response.get("MessageId", ""))}
