"""A fault-injecting HTTP proxy for tests, in front of moto's server and the MGN emulator.

::

    with FaultProxy({"mgn": emulator.endpoint_url, "*": moto_url}, seed=7) as proxy:
        # AWS_ENDPOINT_URL = AWS_ENDPOINT_URL_MGN = proxy.endpoint_url
        proxy.inject("events.PutEvents", "partial_failure", times=3, fraction=0.3)
        proxy.inject("logs.PutLogEvents", "throttle", times=2)
        proxy.inject("mgn.DescribeJobLogItems", "http_500", probability=0.2)
        proxy.inject("dynamodb.UpdateItem", "reset", times=1)
        proxy.inject("*", "slow", delay=0.5, times=1)
        ...
        proxy.calls      # Counter({"events.PutEvents": 12, ...}), faulted calls included
        proxy.records    # [CallRecord(operation, faults, status, error_code, forwarded, rejected)]
        proxy.in_flight  # calls arrived and not answered yet (a killed caller's last one)
        proxy.wait_idle(timeout=30)  # until none is: the upstreams then hold every effect
        proxy.clear(); proxy.reset_calls()

``upstream`` is one URL, or ``{signing name: URL}`` with ``"*"`` as the default route.

Recognising calls. Operations are named ``<service>.<Operation>``. The service is the SigV4
credential scope's signing name (``.../us-east-1/<service>/aws4_request``), else the awsJson
``X-Amz-Target`` prefix. The operation is the ``X-Amz-Target`` suffix (awsJson: events, logs,
dynamodb, sqs), the ``Action`` parameter (query: sts), or the single path segment of
``POST /<Operation>`` (rest-json: mgn). Anything else (``/moto-api/reset``...) is forwarded
verbatim and not counted.

Forwarding. Bodies are read whole (Content-Length or chunked); the upstream's answer is read
whole (chunked or not) and re-sent with a Content-Length. Hop-by-hop headers are dropped, the
others kept, ``Host`` included (moto routes by the SigV4 scope, and URLs it builds, such as
SQS queue URLs, then point at the proxy). HTTP/1.1 keep-alive on both sides; an upstream that
cannot be reached is answered with a 502.

Order per call: count, ``slow`` delays (they stack with anything), the first hitting front
fault (``throttle``, ``http_500``, ``http_503``, ``reset``), limits, the first hitting body
fault (``partial_failure``, ``log_rejection``), forward, record. Rules are drawn in insertion
order; ``times`` counts hits, and a ``probability`` draw uses one ``random.Random(seed)``.

Fault kinds and wire formats (``error_code``, ``message``, ``status`` override any error):

====================  ==========================================================================
``throttle``          awsJson: 400 ``{"__type": ..., "message": ...}``; events, logs:
                      ``ThrottlingException`` "Rate exceeded"; dynamodb:
                      ``com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException``
                      (its data-plane throttle; ``error_code="ThrottlingException"`` for the
                      other); sqs: ``com.amazonaws.sqs#RequestThrottled`` + ``x-amzn-query-error:
                      RequestThrottled;Sender``. rest-json (mgn): 429, ``x-amzn-ErrorType:
                      ThrottlingException``, ``Retry-After: 1``, ``{"message": ...}``. query:
                      400 ``<ErrorResponse>`` code ``Throttling``. botocore's standard and
                      adaptive modes retry all of them as throttling; its legacy mode
                      (_retry.json) all but sqs's ``RequestThrottled``.
``http_500``          500; events ``InternalException``, logs ``ServiceUnavailableException``,
                      dynamodb ``InternalServerError``, other awsJson and query
                      ``InternalFailure``, rest-json ``InternalServerException`` (mgn's model).
``http_503``          503 ``ServiceUnavailable`` in the protocol's format.
``reset``             the request is read, then the socket is closed with SO_LINGER 0 (an RST);
                      botocore raises ``ConnectionClosedError`` (retried).
``slow``              sleep ``delay`` seconds, then go on (other faults may still apply).
``partial_failure``   events.PutEvents: ``indexes``, else the entries whose Detail contains
                      ``detail_contains`` (a "poison" item, failed on every call), else a
                      seeded sample of ``max(1, round(fraction * n))`` entries, fail with
                      ``error_code``
                      (default ``InternalFailure``; e.g. ``ThrottlingException``, or
                      non-retryable ``MalformedDetail``/``InvalidArgument``); the others are
                      forwarded and the answer is 200 ``{"FailedEntryCount": k, "Entries": [...]}``
                      in request order, failed ones ``{"ErrorCode", "ErrorMessage"}``. All failed:
                      nothing is forwarded.
``log_rejection``     logs.PutLogEvents: 200 with ``rejectedLogEventsInfo``, forwarding only the
                      accepted slice. Explicit: ``too_old=k`` (events [0, k),
                      ``tooOldLogEventEndIndex`` k, exclusive), ``expired=e``
                      (``expiredLogEventEndIndex``), ``too_new=j`` (events [j, n),
                      ``tooNewLogEventStartIndex`` j, inclusive). ``by_timestamp=True``: like
                      CloudWatch Logs against the proxy's ``clock``: older than 14 days is too
                      old, older than ``retention_days`` is expired (both leading runs), more
                      than 2 hours ahead is too new. Rejections moto adds on the forwarded slice
                      are merged in, re-indexed.
====================  ==========================================================================

Limits enforced (``limits=Limits(...)`` to change, ``None`` to switch off), checked after
front faults and before body faults, never forwarded:

* events.PutEvents: more than 10 entries -> 400 ``ValidationException`` "1 validation error
  detected: Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint: Member
  must have length less than or equal to 10"; entries totalling over 256 KiB (Source +
  DetailType + Detail + each Resource in UTF-8, + 14 with Time) -> 400 ``ValidationException``
  "Total size of the entries in the request is over the limit." A single oversized entry fails
  the request the same way (its total is over too). AWS's current docs say 1 MB; 256 KiB is
  the limit the exporter is built to, so the default is the stricter one.
* logs.PutLogEvents, all 400 ``InvalidParameterException``, in this order: more than 10,000
  events ("1 validation error detected: ... at 'logEvents' ..."); batch over 1,048,576 bytes
  (UTF-8 messages + 26 per event: "Upload too large: N bytes exceeds limit of 1048576"); an
  event over 256 KiB with its 26 bytes ("Log event too large: N bytes exceeds limit of
  262144"; AWS now documents 1 MB, again the stricter default); out of chronological order
  ("Log events in a single PutLogEvents request must be in chronological order."); events
  within the accepted window (14 days back, 2 hours ahead of ``clock``) spanning more than 24
  hours ("The batch of log events in a single PutLogEvents request cannot span more than 24
  hours.").
"""

from local.fault_proxy.faults import KINDS, FaultParams, Rule
from local.fault_proxy.limits import Limits, entry_size
from local.fault_proxy.pipeline import CallRecord
from local.fault_proxy.proxy import FaultProxy

__all__ = ["KINDS", "CallRecord", "FaultParams", "FaultProxy", "Limits", "Rule", "entry_size"]
