"""SQS adapter: sends work requests to the FIFO work queue in batches of ten.

SendMessageBatch answers 200 while failing single entries (Failed, SenderFault); they are sent
again under the retry policy's per-entry rule (mgn_exporter.retries).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from mgn_exporter.errors import QueueUnavailable
from mgn_exporter.retries import resend_failed, unbounded
from mgn_exporter.work_request import WorkRequest

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

SEND_BATCH_MAX = 10  # SendMessageBatch's limit


class WorkQueue:
    def __init__(
        self,
        client: SQSClient,
        queue_url: str,
        *,
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._queue_url = queue_url
        self._max_attempts = max_attempts
        self._sleep = sleep
        self.calls = 0

    def send(self, requests: Sequence[WorkRequest]) -> None:
        """Send every request, or raise QueueUnavailable naming the accounts not sent."""
        unsent: list[str] = []
        for start in range(0, len(requests), SEND_BATCH_MAX):
            unsent.extend(self._send_batch(requests[start : start + SEND_BATCH_MAX]))
        if unsent:
            raise QueueUnavailable(f"work requests not sent for accounts {', '.join(unsent)}")

    def _send_batch(self, batch: Sequence[WorkRequest]) -> list[str]:
        """Send up to ten requests; the accounts of those SQS still failed when retries ran out."""
        requests = {str(index): request for index, request in enumerate(batch)}

        def send(entry_ids: Sequence[str], attempt: int) -> list[str]:
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {
                    "Id": entry_id,
                    "MessageBody": requests[entry_id].body(),
                    "MessageGroupId": requests[entry_id].group_id(),
                    "MessageDeduplicationId": requests[entry_id].deduplication_id(),
                }
                for entry_id in entry_ids
            ]
            self.calls += 1
            try:
                response = self._client.send_message_batch(
                    QueueUrl=self._queue_url, Entries=entries
                )
            except (ClientError, BotoCoreError) as exc:
                raise QueueUnavailable(f"SendMessageBatch failed: {exc!r}") from exc
            failed = response.get("Failed", [])
            if any(entry.get("SenderFault") for entry in failed):
                # Our own request is wrong (a defect): sending it again cannot help.
                raise QueueUnavailable(f"SendMessageBatch refused entries: {failed!r}")
            return [entry["Id"] for entry in failed]

        unsent = resend_failed(
            send,
            list(requests),
            attempts=self._max_attempts,
            time_left=unbounded,
            sleep=self._sleep,
        )
        return [requests[entry_id].account_id for entry_id in unsent]

    def delay_retry(self, receipt_handle: str, seconds: int) -> bool:
        """Make a failed message visible again in `seconds` rather than at the end of the
        queue's visibility timeout; False if SQS refused (the timeout then applies)."""
        self.calls += 1
        try:
            self._client.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )
        except (ClientError, BotoCoreError):
            return False
        return True
