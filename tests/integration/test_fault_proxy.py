"""The fault proxy between real boto3 clients and moto's server / the MGN emulator."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from moto.server import ThreadedMotoServer

from local.fault_proxy import FaultProxy, Limits
from local.mgn_emulator import MgnEmulator, make_item

REGION = "us-east-1"
ACCOUNT = "111111111111"
SOURCE = "test.fault-proxy"
GROUP = "/fault-proxy/test"
STREAM = "s1"
TABLE = "checkpoints"
HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS

Factory = Callable[..., Any]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def emulator() -> Iterator[MgnEmulator]:
    with MgnEmulator(caller_account=ACCOUNT, region=REGION) as emu:
        yield emu


@pytest.fixture(scope="module")
def proxy(moto_url: str, emulator: MgnEmulator) -> Iterator[FaultProxy]:
    with FaultProxy({"mgn": emulator.endpoint_url, "*": moto_url}, seed=7) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(proxy: FaultProxy, moto_url: str) -> None:
    proxy.clear()
    proxy.limits = Limits()
    proxy.clock = time.time
    # Straight to moto: the proxy must see only the test's own calls.
    reset = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(reset, timeout=10).read()
    proxy.reset_calls()


@pytest.fixture(scope="module")
def session() -> boto3.Session:
    # One session: its loader caches the service models, which keeps client creation cheap.
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture
def aws(session: boto3.Session, proxy: FaultProxy) -> Factory:
    """Clients through the proxy; ``attempts=None`` keeps botocore's default retries."""

    new_client: Callable[..., Any] = session.client  # a str service name, not a Literal

    def make(service: str, attempts: int | None = 1) -> Any:
        # total_max_attempts counts the first attempt; botocore's max_attempts does not.
        retries: Any = {"total_max_attempts": attempts, "mode": "standard"} if attempts else None
        config = Config(retries=retries, connect_timeout=5, read_timeout=30)
        return new_client(service, endpoint_url=proxy.endpoint_url, config=config)

    return make


def entry(n: int, detail_pad: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "Source": SOURCE,
        "DetailType": "t",
        "Detail": json.dumps({"n": n, "pad": detail_pad}),
        **extra,
    }


@pytest.fixture
def queue(aws: Factory) -> str:
    """An SQS queue that a default-bus rule for SOURCE delivers to; its URL."""
    sqs, events = aws("sqs"), aws("events")
    url: str = sqs.create_queue(QueueName="delivered")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="to-queue", EventPattern=json.dumps({"source": [SOURCE]}))
    events.put_targets(Rule="to-queue", Targets=[{"Id": "q", "Arn": arn}])
    return url


def delivered(aws: Factory, url: str) -> list[int]:
    """The ``n`` of every event the rule delivered to the queue, sorted."""
    sqs, seen = aws("sqs"), list[int]()
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return sorted(seen)
        for message in messages:
            seen.append(json.loads(message["Body"])["detail"]["n"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def stream(aws: Factory) -> Any:
    logs = aws("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    return logs


def stored_messages(logs: Any) -> list[str]:
    page = logs.get_log_events(logGroupName=GROUP, logStreamName=STREAM, startFromHead=True)
    return [event["message"] for event in page["events"]]


def now_ms() -> int:
    return int(time.time() * 1000)


def log_events(*offsets_ms: int, base: int | None = None) -> list[dict[str, Any]]:
    start = now_ms() if base is None else base
    return [{"timestamp": start + o, "message": f"m{i}"} for i, o in enumerate(offsets_ms)]


@pytest.fixture
def table(aws: Factory) -> Any:
    dynamodb = aws("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


def update_item(dynamodb: Any) -> Any:
    return dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "1"}},
    )


@pytest.fixture
def job(emulator: MgnEmulator) -> str:
    job_id = emulator.add_job(ACCOUNT)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    emulator.append_items(ACCOUNT, job_id, [make_item("JOB_START", when)])
    return job_id


# -- pass-through ------------------------------------------------------------------------------


def test_moto_services_pass_through_and_are_counted(
    aws: Factory, proxy: FaultProxy, queue: str, stream: Any, table: Any
) -> None:
    result = aws("events").put_events(Entries=[entry(0), entry(1), entry(2)])
    assert result["FailedEntryCount"] == 0
    assert delivered(aws, queue) == [0, 1, 2]

    stream.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=log_events(0, 1))
    assert stored_messages(stream) == ["m0", "m1"]

    update_item(table)
    item = table.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})["Item"]
    assert item["v"] == {"N": "1"}

    # The Host header is kept, so moto builds URLs that lead back through the proxy.
    assert urlsplit(queue).netloc == urlsplit(proxy.endpoint_url).netloc
    calls = proxy.calls
    assert calls["events.PutEvents"] == 1
    assert calls["logs.PutLogEvents"] == 1
    assert calls["dynamodb.UpdateItem"] == calls["dynamodb.GetItem"] == 1
    assert calls["sqs.ReceiveMessage"] == 2
    assert calls["sqs.CreateQueue"] == 1
    records = proxy.records
    assert len(records) == sum(calls.values())
    assert all(r.forwarded and not r.faulted and r.status == 200 for r in records)


def test_a_request_cut_short_by_a_dying_caller_is_not_forwarded(proxy: FaultProxy) -> None:
    # Given a caller that sends the headers and part of the body, then dies
    host, port = urlsplit(proxy.endpoint_url).netloc.split(":")
    body = json.dumps({"Entries": [entry(0)]}).encode()
    with socket.create_connection((host, int(port)), timeout=5) as caller:
        caller.sendall(
            b"POST / HTTP/1.1\r\nHost: events.us-east-1.amazonaws.com\r\n"
            b"X-Amz-Target: AWSEvents.PutEvents\r\n"
            b"Content-Type: application/x-amz-json-1.1\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
    # Then nothing reached the service: half a request is not a request
    time.sleep(0.3)
    assert proxy.records == []


def test_mgn_passes_through(
    aws: Factory, proxy: FaultProxy, emulator: MgnEmulator, job: str
) -> None:
    emulator.reset_calls()
    items = aws("mgn").describe_job_log_items(jobID=job)["items"]
    assert [item["event"] for item in items] == ["JOB_START"]
    assert proxy.calls == Counter({"mgn.DescribeJobLogItems": 1})
    assert emulator.calls["DescribeJobLogItems"] == 1


# -- PutEvents partial failure -----------------------------------------------------------------


def test_partial_failure_fails_a_seeded_subset_and_delivers_only_the_rest(
    aws: Factory, proxy: FaultProxy, queue: str
) -> None:
    proxy.inject(
        "events.PutEvents",
        "partial_failure",
        times=1,
        fraction=0.4,
        error_code="ThrottlingException",
    )
    events = aws("events")
    result = events.put_events(Entries=[entry(n) for n in range(5)])
    record = proxy.records[-1]

    failed = [i for i, e in enumerate(result["Entries"]) if "ErrorCode" in e]
    assert result["FailedEntryCount"] == len(failed) == 2
    assert {result["Entries"][i]["ErrorCode"] for i in failed} == {"ThrottlingException"}
    assert all("EventId" in e for i, e in enumerate(result["Entries"]) if i not in failed)
    assert delivered(aws, queue) == [n for n in range(5) if n not in failed]
    assert (record.operation, record.rejected) == ("events.PutEvents", tuple(failed))

    # The rule is spent: the next call goes through whole.
    assert events.put_events(Entries=[entry(9)])["FailedEntryCount"] == 0
    assert delivered(aws, queue) == [9]


def test_partial_failure_of_every_entry_forwards_nothing(
    aws: Factory, proxy: FaultProxy, queue: str
) -> None:
    proxy.inject(
        "events.PutEvents", "partial_failure", indexes=[0, 1], error_code="MalformedDetail"
    )
    result = aws("events").put_events(Entries=[entry(0), entry(1)])
    assert result["FailedEntryCount"] == 2
    assert [e["ErrorCode"] for e in result["Entries"]] == ["MalformedDetail"] * 2
    assert not proxy.records[-1].forwarded
    assert delivered(aws, queue) == []


def test_partial_failure_by_detail_fails_the_poisoned_entries_every_time(
    aws: Factory, proxy: FaultProxy, queue: str
) -> None:
    # Given EventBridge refusing, for good, every entry whose Detail holds a marker
    proxy.inject(
        "events.PutEvents",
        "partial_failure",
        detail_contains="POISON",
        error_code="MalformedDetail",
    )
    events = aws("events")
    # When entries with and without it are sent, twice
    for _ in range(2):
        result = events.put_events(Entries=[entry(0), entry(1, "POISON"), entry(2)])
        # Then only the poisoned one fails, each time, and the others are delivered
        assert result["FailedEntryCount"] == 1
        assert result["Entries"][1]["ErrorCode"] == "MalformedDetail"
    assert delivered(aws, queue) == [0, 0, 2, 2]
    assert events.put_events(Entries=[entry(3)])["FailedEntryCount"] == 0


# -- throttling, 5xx, resets, delays -----------------------------------------------------------

THROTTLES = [
    ("events.PutEvents", "ThrottlingException", 400),
    ("logs.PutLogEvents", "ThrottlingException", 400),
    ("dynamodb.UpdateItem", "ProvisionedThroughputExceededException", 400),
    ("mgn.DescribeJobLogItems", "ThrottlingException", 429),
    ("sqs.ReceiveMessage", "RequestThrottled", 400),
]


def call(
    aws: Factory, operation: str, attempts: int | None = 1, job: str = "mgnjob-0000000000000000a"
) -> Any:
    """One call of ``operation`` with valid arguments (resources may not exist)."""
    service = operation.split(".")[0]
    client = aws(service, attempts)
    if operation == "events.PutEvents":
        return client.put_events(Entries=[entry(0)])
    if operation == "logs.PutLogEvents":
        return client.put_log_events(
            logGroupName=GROUP, logStreamName=STREAM, logEvents=log_events(0)
        )
    if operation == "dynamodb.UpdateItem":
        return update_item(client)
    if operation == "mgn.DescribeJobLogItems":
        return client.describe_job_log_items(jobID=job)
    if operation == "sqs.ReceiveMessage":
        return client.receive_message(QueueUrl="http://127.0.0.1/111111111111/nope")
    raise AssertionError(operation)


@pytest.mark.parametrize(("operation", "code", "status"), THROTTLES)
def test_throttle_is_parsed_as_the_services_throttling_error(
    aws: Factory, proxy: FaultProxy, operation: str, code: str, status: int
) -> None:
    proxy.inject(operation, "throttle", times=1)
    with pytest.raises(ClientError) as raised:
        call(aws, operation)
    response = raised.value.response
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    if operation.startswith("mgn."):
        assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    assert proxy.calls == Counter({operation: 1})
    record = proxy.records[-1]
    assert (record.faults, record.error_code, record.forwarded) == (("throttle",), code, False)


@pytest.mark.parametrize(
    "operation",
    ["events.PutEvents", "logs.PutLogEvents", "dynamodb.UpdateItem", "mgn.DescribeJobLogItems"],
)
def test_default_retries_go_through_a_throttle(
    aws: Factory, proxy: FaultProxy, stream: Any, table: Any, job: str, operation: str
) -> None:
    proxy.reset_calls()
    proxy.inject(operation, "throttle", times=1)
    call(aws, operation, attempts=None, job=job)
    assert proxy.calls == Counter({operation: 2})
    assert [r.faults for r in proxy.records] == [("throttle",), ()]


@pytest.mark.parametrize(
    ("operation", "kind", "code", "status"),
    [
        ("events.PutEvents", "http_500", "InternalException", 500),
        ("logs.PutLogEvents", "http_500", "ServiceUnavailableException", 500),
        ("dynamodb.UpdateItem", "http_500", "InternalServerError", 500),
        ("mgn.DescribeJobLogItems", "http_500", "InternalServerException", 500),
        ("events.PutEvents", "http_503", "ServiceUnavailable", 503),
        ("mgn.DescribeJobLogItems", "http_503", "ServiceUnavailable", 503),
    ],
)
def test_server_errors_are_seen(
    aws: Factory, proxy: FaultProxy, operation: str, kind: str, code: str, status: int
) -> None:
    proxy.inject(operation, kind, times=1)
    with pytest.raises(ClientError) as raised:
        call(aws, operation)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_reset_is_a_connection_error_that_default_retries_go_through(
    aws: Factory, proxy: FaultProxy, table: Any
) -> None:
    proxy.inject("dynamodb.UpdateItem", "reset", times=1)
    with pytest.raises(ConnectionClosedError):
        update_item(table)
    proxy.inject("dynamodb.UpdateItem", "reset", times=1)
    update_item(aws("dynamodb", None))
    assert proxy.calls["dynamodb.UpdateItem"] == 3
    assert [r.status for r in proxy.records[-3:]] == [None, None, 200]


def test_slow_delays_the_call_then_forwards_it(aws: Factory, proxy: FaultProxy) -> None:
    proxy.inject("*", "slow", delay=0.4, times=1)
    dynamodb = aws("dynamodb")
    started = time.monotonic()
    dynamodb.list_tables()
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    dynamodb.list_tables()
    assert time.monotonic() - started < 0.4
    assert [(r.faults, r.status) for r in proxy.records] == [(("slow",), 200), ((), 200)]


def test_calls_in_flight_are_counted_until_answered(aws: Factory, proxy: FaultProxy) -> None:
    # Given a call held in the proxy (slow), made by a caller that is not waiting for it
    proxy.inject("*", "slow", delay=0.5, times=1)
    dynamodb = aws("dynamodb")
    caller = threading.Thread(target=dynamodb.list_tables)
    caller.start()
    deadline = time.monotonic() + 5
    while not proxy.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    # Then it is in flight until the upstream answered it, and wait_idle waits for that
    assert proxy.in_flight == 1
    assert proxy.wait_idle(timeout=5)
    assert proxy.in_flight == 0 and proxy.records[-1].status == 200
    caller.join()


def test_a_held_call_waits_until_released(aws: Factory, proxy: FaultProxy) -> None:
    # Given a hold on the calls whose body names table "held"
    hold = proxy.hold(lambda operation, body: b'"held"' in body)
    dynamodb = aws("dynamodb")
    caller = threading.Thread(
        target=lambda: dynamodb.list_tables(ExclusiveStartTableName="held"), daemon=True
    )
    caller.start()
    deadline = time.monotonic() + 5
    while not hold.held and time.monotonic() < deadline:
        time.sleep(0.01)
    # Then the call waits in the proxy while the others go through
    assert hold.held == 1 and proxy.in_flight == 1
    dynamodb.list_tables()
    assert caller.is_alive() and proxy.in_flight == 1
    # And it goes on once released
    hold.release()
    caller.join(timeout=5)
    assert not caller.is_alive() and proxy.in_flight == 0
    assert [r.status for r in proxy.records] == [200, 200]


def test_probability_is_drawn_from_the_seed(session: boto3.Session, moto_url: str) -> None:
    def pattern(seed: int) -> list[bool]:
        with FaultProxy(moto_url, seed=seed) as own:
            own.inject("dynamodb.ListTables", "http_500", probability=0.5)
            client = session.client(
                "dynamodb",
                endpoint_url=own.endpoint_url,
                config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
            )
            hits = []
            for _ in range(20):
                try:
                    client.list_tables()
                    hits.append(False)
                except ClientError:
                    hits.append(True)
            assert own.faulted["dynamodb.ListTables"] == sum(hits)
            assert own.calls["dynamodb.ListTables"] == 20
            return hits

    first = pattern(3)
    assert 0 < sum(first) < 20
    assert pattern(3) == first
    assert pattern(4) != first


def test_wildcards_and_counting(aws: Factory, proxy: FaultProxy) -> None:
    proxy.inject("events.*", "http_503", times=2)
    events, dynamodb = aws("events"), aws("dynamodb")
    dynamodb.list_tables()
    for _ in range(2):
        with pytest.raises(ClientError):
            events.list_rules()
    events.list_event_buses()
    assert proxy.calls == Counter(
        {"dynamodb.ListTables": 1, "events.ListRules": 2, "events.ListEventBuses": 1}
    )
    assert proxy.faulted == Counter({"events.ListRules": 2})
    assert proxy.rules == []
    proxy.reset_calls()
    assert proxy.calls == Counter()
    assert proxy.records == []


# -- PutLogEvents rejections -------------------------------------------------------------------


def test_log_rejection_by_index_stores_only_the_accepted_events(
    proxy: FaultProxy, stream: Any
) -> None:
    proxy.inject("logs.PutLogEvents", "log_rejection", too_old=2, too_new=4, times=1)
    response = stream.put_log_events(
        logGroupName=GROUP, logStreamName=STREAM, logEvents=log_events(0, 1, 2, 3, 4)
    )
    record = proxy.records[-1]
    assert response["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 2,
        "tooNewLogEventStartIndex": 4,
    }
    assert stored_messages(stream) == ["m2", "m3"]
    assert (record.operation, record.rejected) == ("logs.PutLogEvents", (0, 1, 4))


def test_log_rejection_by_timestamp_judges_like_cloudwatch_logs(
    proxy: FaultProxy, stream: Any
) -> None:
    now = now_ms()
    proxy.clock = lambda: now / 1000
    proxy.inject("logs.PutLogEvents", "log_rejection", by_timestamp=True, retention_days=1)
    events = log_events(-15 * DAY_MS, -25 * HOUR_MS, -3 * HOUR_MS, 2 * HOUR_MS + 1, base=now)
    response = stream.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=events)
    assert response["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 1,
        "expiredLogEventEndIndex": 2,
        "tooNewLogEventStartIndex": 3,
    }
    assert stored_messages(stream) == ["m2"]


# -- limits ------------------------------------------------------------------------------------


def sized_entry(total: int, *, time_and_resource: bool) -> dict[str, Any]:
    """An entry of exactly ``total`` bytes by EventBridge's rule, with 2-byte characters."""
    extra: dict[str, Any] = {}
    fixed = len(SOURCE) + len("t") + len('{"x": ""}')
    if time_and_resource:
        extra = {"Time": datetime(2026, 1, 1, tzinfo=UTC), "Resources": ["arn:r"]}
        fixed += 14 + len("arn:r")
    room = total - fixed
    pad = "é" * (room // 2) + "x" * (room % 2)
    return {"Source": SOURCE, "DetailType": "t", "Detail": f'{{"x": "{pad}"}}', **extra}


def test_put_events_limits(aws: Factory, proxy: FaultProxy) -> None:
    events = aws("events")
    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=[entry(n) for n in range(11)])
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "Member must have length less than or equal to 10" in error["Message"]

    limit = 256 * 1024
    exact = [
        sized_entry(limit // 2, time_and_resource=True),
        sized_entry(limit // 2, time_and_resource=False),
    ]
    assert events.put_events(Entries=exact)["FailedEntryCount"] == 0
    over = [exact[0], sized_entry(limit // 2 + 1, time_and_resource=False)]
    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=over)
    assert raised.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Total size of the entries in the request is over the limit.",
    }
    assert [r.forwarded for r in proxy.records] == [False, True, False]


LOG_LIMIT_CASES: dict[str, tuple[list[dict[str, Any]], str]] = {
    "too many events": (
        [{"timestamp": 0, "message": "x"}] * 10_001,
        "Member must have length less than or equal to 10000",
    ),
    "batch too large": (
        [{"timestamp": 0, "message": "x" * 210_000}] * 5,
        "Upload too large: 1050130 bytes exceeds limit of 1048576",
    ),
    "event too large": (
        [{"timestamp": 0, "message": "x" * (256 * 1024 - 25)}],
        "Log event too large: 262145 bytes exceeds limit of 262144",
    ),
    "out of order": (
        [{"timestamp": 1000, "message": "a"}, {"timestamp": 999, "message": "b"}],
        "Log events in a single PutLogEvents request must be in chronological order.",
    ),
    "span over 24 hours": (
        [{"timestamp": -DAY_MS - 1, "message": "a"}, {"timestamp": 0, "message": "b"}],
        "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
    ),
}


@pytest.mark.parametrize("case", LOG_LIMIT_CASES)
def test_put_log_events_limits(aws: Factory, proxy: FaultProxy, case: str) -> None:
    events, message = LOG_LIMIT_CASES[case]
    base = now_ms() - HOUR_MS
    shifted = [{**e, "timestamp": base + e["timestamp"]} for e in events]
    with pytest.raises(ClientError) as raised:
        aws("logs").put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=shifted)
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidParameterException"
    assert message in error["Message"]
    assert not proxy.records[-1].forwarded


def test_put_log_events_at_the_limits_is_accepted(proxy: FaultProxy, stream: Any) -> None:
    base = now_ms() - HOUR_MS
    events = [
        {"timestamp": base - DAY_MS, "message": "x" * (256 * 1024 - 26)},
        {"timestamp": base, "message": "y"},
    ]
    stream.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=events)
    assert len(stored_messages(stream)) == 2


# -- HTTP handling -----------------------------------------------------------------------------


class _ChunkedUpstream(BaseHTTPRequestHandler):
    """Echoes the request body back in two chunks."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Upstream-Host", self.headers["Host"])
        self.end_headers()
        half = len(body) // 2
        for chunk in (body[:half], body[half:], b""):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def test_chunked_bodies_are_rebuffered_and_connections_kept_alive() -> None:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _ChunkedUpstream)
    threading.Thread(target=upstream.serve_forever, args=(0.05,), daemon=True).start()
    try:
        with FaultProxy(f"http://127.0.0.1:{upstream.server_address[1]}") as own:
            connection = http.client.HTTPConnection("127.0.0.1", own.port, timeout=5)
            for payload in (b"hello world", b"second request"):
                connection.request(
                    "POST", "/echo", body=iter([payload]), encode_chunked=True, headers={}
                )
                response = connection.getresponse()
                assert response.read() == payload
                assert response.getheader("Content-Length") == str(len(payload))
                assert response.getheader("Transfer-Encoding") is None
                assert response.getheader("X-Upstream-Host") == f"127.0.0.1:{own.port}"
            connection.close()
            assert own.calls == Counter()  # not an AWS call: forwarded, uncounted
    finally:
        upstream.shutdown()
        upstream.server_close()
