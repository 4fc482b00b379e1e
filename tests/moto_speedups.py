"""Speed-ups of moto's server for this test suite; behaviour is unchanged.

moto's SQS checks each message's visibility with a slow datetime round trip on every scan, and
its EventBridge target delivery builds a new JSONPath parser per event. Both turn the suites'
thousands of events into minutes; these keep the same results in a fraction of the time.
"""

from __future__ import annotations

import functools
import time
from datetime import datetime


def _unix_time(dt: datetime | None = None) -> float:
    if dt is None:
        return time.time()
    return (dt - datetime(1970, 1, 1)).total_seconds()


def _unix_time_millis(dt: datetime | None = None) -> float:
    return _unix_time(dt) * 1000.0


def apply() -> None:
    import jsonpath_ng.ext
    import moto.sqs.models as sqs_models

    if not hasattr(jsonpath_ng.ext.parse, "cache_info"):
        jsonpath_ng.ext.parse = functools.lru_cache(maxsize=512)(jsonpath_ng.ext.parse)
    sqs_models.unix_time = _unix_time  # type: ignore[assignment]
    sqs_models.unix_time_millis = _unix_time_millis  # type: ignore[assignment]
