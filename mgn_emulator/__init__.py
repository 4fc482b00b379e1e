"""An in-process emulator of AWS Application Migration Service (MGN) for tests.

It serves MGN's real rest-json protocol on ``127.0.0.1`` (ephemeral port), so boto3's own
``mgn`` client talks to it with ``endpoint_url=emu.endpoint_url`` (or
``AWS_ENDPOINT_URL_MGN``). botocore's ``mgn`` service model is the source of truth for
request shapes, limits and error shapes/statuses.

Served: ListManagedAccounts, DescribeJobs, DescribeJobLogItems, DescribeSourceServers.
Requests are ``POST /<Operation>`` with a JSON body (empty body = ``{}``); anything else is
a ValidationException with reason ``unknownOperation``. Errors carry the model's HTTP
status, ``x-amzn-ErrorType: <Name>`` and a JSON body with ``message`` (and ``code``,
``reason``, ``fieldList`` where the shape has them); ThrottlingException sends
``Retry-After``.

Order of checks: route, count the call (``calls``), injected fault, JSON parse
(``cannotParse``), model validation (``fieldValidationFailed`` with ``fieldList``), caller
account initialized, ``accountID`` registered (else AccessDeniedException 403) and
initialized (else UninitializedAccountException 400), then the operation.

Simplifications and choices where MGN's behaviour is not documented:

* No authentication: SigV4 headers are accepted unchecked; the caller is always
  ``caller_account``. Any registered account may be named in ``accountID`` (managed or not);
  ``managed`` only controls ListManagedAccounts. State is in memory only.
* Validation walks the model generically: required, types, string length/pattern/enum,
  number range, list/map size, nested members; patterns are matched against the whole
  value; unknown members are ignored; ``null`` is absent. Member paths in ``fieldList`` are
  dotted with indexes: ``filters.jobIDs[0]``. Messages mimic AWS's ("Member must ...").
* ``maxResults`` absent means 1000 (the model maximum) for every operation;
  ``max_page_size`` caps every page further (short pages). ``nextToken=""`` is a first page.
* A ``nextToken`` is returned only when more items exist after the page, so the last page
  (and an empty one) has none, even for a job still running; items appended later are read
  by paging again from the start. Log items come in append order.
* Tokens are opaque (base64url JSON + HMAC; do not parse them), reusable, bound to the
  operation, account and job, and expire after ``token_ttl_seconds`` of simulated time
  (age >= ttl) or on ``expire_tokens()``. Expired: ValidationException reason ``other``;
  malformed or foreign: reason ``fieldValidationFailed``; both with ``fieldList`` naming
  ``nextToken``. List tokens are cursors (the last key returned), so inserts between
  pages neither repeat nor skip already-ordered items; filters are not bound to tokens.
* DescribeJobLogItems on a job unknown in the account: ValidationException reason
  ``other`` with ``fieldList`` naming ``jobID`` (the model lists no ResourceNotFoundException
  for the operation).
* DescribeJobs: ``fromDate <= creationDateTime <= toDate`` (both inclusive); a date that
  matches the pattern but is not a real instant is a ``fieldValidationFailed``. Jobs come
  in ascending creationDateTime, then jobID. ``endDateTime`` only when COMPLETED;
  ``launchStatus`` derives from the job (PENDING, IN_PROGRESS, then LAUNCHED or
  TERMINATED) unless set with ``set_launch_status``; ``tags`` is always present.
* DescribeSourceServers: servers in insertion order, created implicitly from a job's
  ``source_server_ids`` (READY_FOR_TEST, AGENT_BASED) or with ``add_source_server``;
  rendered with sourceServerID, arn, isArchived, tags, lifeCycle.state, replicationType,
  applicationID. ListManagedAccounts: ascending account id.
* Timestamps are rendered like ``2026-11-25T10:00:00.123Z`` (UTC, milliseconds).
* Injected ``ServiceUnavailable`` is a bare 503 with a text body and no error type, which
  botocore reports as a ClientError with code ``503``.
"""

from mgn_emulator.emulator import MgnEmulator
from mgn_emulator.errors import ApiError
from mgn_emulator.service import DEFAULT_MAX_RESULTS
from mgn_emulator.timefmt import format_datetime, make_item, parse_datetime

__all__ = [
    "DEFAULT_MAX_RESULTS",
    "ApiError",
    "MgnEmulator",
    "format_datetime",
    "make_item",
    "parse_datetime",
]
