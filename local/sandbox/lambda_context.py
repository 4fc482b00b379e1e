"""A standard Lambda context with a real deadline, for running the handler outside Lambda."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


@dataclass
class LocalLambdaContext:
    budget_ms: int = 60_000
    account_id: str = "111111111111"
    region: str = "us-east-1"
    function_name: str = "mgn-job-log-exporter"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/mgn-job-log-exporter"
    log_stream_name: str = "local/[$LATEST]sandbox"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.budget_ms - (time.monotonic() - self.started) * 1000))
