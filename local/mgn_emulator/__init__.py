"""An emulator of AWS Application Migration Service (MGN), in process or as a program.

It serves MGN's real rest-json protocol on ``127.0.0.1`` (an ephemeral port unless given),
so boto3's own ``mgn`` client talks to it with ``endpoint_url=emu.endpoint_url`` (or
``AWS_ENDPOINT_URL_MGN``). botocore's ``mgn`` service model is the source of truth for
request shapes, limits and error shapes/statuses.

Three ways to use it:

* ``MgnEmulator`` in a test: set up accounts, jobs and items, source servers, waves and
  applications, inject faults, set the clock.
* A simulated migration programme (``programme.generate_programme``: accounts, one of them
  uninitialized, waves of test and cutover jobs, job logs in MGN's order with failures, the
  launched servers' instances and post-launch actions, and the inventory naming their
  servers: MGN waves, applications, hostnames), played by ``emu.play(programme)`` as the
  simulated clock passes each job's, item's and action's time (``playback``).
* ``python -m local.mgn_emulator --port N [--accounts --jobs --seed --speed ...]``: a programme
  served until Ctrl-C, the clock running at ``--speed`` (see ``mgn_emulator.cli``).

Simulated time: the clock is real UTC time until ``set_now``/``advance`` freeze it, or
``run_clock(speed, start)`` lets it run at ``speed`` simulated seconds per real second
(never ahead of the real clock by default). Token ages and a programme's progress follow it;
nothing else does (it does not slow anything down).

Knobs: ``set_fault_rates(throttle, server_error)`` answers that share of all calls with
ThrottlingException (429, ``Retry-After``) or a 5xx (InternalServerException or a bare 503),
seeded; ``token_ttl_seconds`` (simulated); ``max_page_size`` (short pages); ``inject_fault``
for exact faults on exact calls. ``injected_faults`` counts what was answered.

Launch outcomes (DescribeJobs' ``participatingServers``): ``set_launch_status``,
``set_launched_instance`` (``launchedEc2InstanceID``), ``set_ssm_agent_discovered`` and
``set_post_launch_action`` (``postLaunchActionsStatus``: one execution added, or updated
by its executionID).

Inventory (what names a job log event's server, application and wave): ``add_wave``,
``add_application(wave_id=...)``, ``rename_wave``/``rename_application`` (at ``when``),
``archive_wave``/``archive_application``, ``assign_wave``, ``assign_application``,
``add_source_server(hostname=, fqdn=, name=)`` and ``add_inventory`` (a planned
``inventory.Inventory``, such as a programme's or ``worlds.log_inventory``'s).

Served: ListManagedAccounts, DescribeJobs, DescribeJobLogItems, DescribeSourceServers,
ListApplications, ListWaves.
Requests are ``POST /<Operation>`` with a JSON body (empty body = ``{}``); anything else is
a ValidationException with reason ``unknownOperation``. Errors carry the model's HTTP
status, ``x-amzn-ErrorType: <Name>`` and a JSON body with ``message`` (and ``code``,
``reason``, ``fieldList`` where the shape has them); ThrottlingException sends
``Retry-After``.

Order of checks: route, count the call (``calls``), play programmes up to the clock's now,
injected fault (queued first, then drawn at the rates), JSON parse
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
* A participating server has ``launchedEc2InstanceID`` only once set, and
  ``postLaunchActionsStatus`` only once it has an SSM agent discovery time or an execution;
  within it, ``ssmAgentDiscoveryDatetime`` and ``postLaunchActionsLaunchStatusList`` are
  each left out while absent or empty (MGN's JSON for these states is not documented). An
  execution has executionID, executionStatus, ssmDocumentType and ssmDocument (actionName,
  ssmDocumentName, timeoutSeconds, mustSucceedForCutover, then parameters and
  externalParameters when given), failureReason only when given; executions keep the order
  they were added in. Nothing ties them to the job's status or launch status (a job can be
  COMPLETED while its actions run, as in MGN), nor runs anything: there is no SSM.
* DescribeSourceServers: servers in insertion order, created implicitly from a job's
  ``source_server_ids`` (READY_FOR_TEST, AGENT_BASED) or with ``add_source_server``;
  rendered with sourceServerID, arn, isArchived, tags (``Name`` when given),
  lifeCycle.state, replicationType, sourceProperties.identificationHints (hostname and fqdn
  when given: empty for an implicit server; no awsInstanceID, vmWareUuid or vmPath) and
  applicationID when in one. ListManagedAccounts: ascending account id.
* ListApplications and ListWaves: in insertion order (servers, waves and applications share
  one sequence); an empty ID filter list filters nothing, as absent. Rendered with the id,
  arn (``application/<id>``, ``wave/<id>``), name, description (``""`` unless given),
  isArchived, creationDateTime, lastModifiedDateTime (the last rename, archive or wave
  change), tags, an application's waveID when in one; the aggregated status holds only
  the totals (totalSourceServers, totalApplications, archived ones counted), no health or
  progress. A server's application and an application's wave must be in its account;
  archiving checks nothing (MGN's rules about archiving non-empty groups are not modeled).
* Timestamps are rendered like ``2026-11-25T10:00:00.123Z`` (UTC, milliseconds).
* Injected ``ServiceUnavailable`` is a bare 503 with a text body and no error type, which
  botocore reports as a ClientError with code ``503``.
* Random faults hit any operation with the same chance; MGN's real throttling is per account
  and per operation rate, which the emulator does not model.
* A played programme's source servers stay ``READY_FOR_TEST`` (their life cycle does not
  follow the jobs), jobs go from ``STARTED`` to ``COMPLETED`` (never ``PENDING``), and only
  launch jobs are generated (no ``TERMINATE`` or ``DIAGNOSTIC`` jobs). A skipped server's
  launchStatus is ``FAILED``. The rawError texts are made up in MGN's style.
* A programme's post-launch actions (``post_launch``) come from a small made-up catalogue
  named after MGN's predefined actions (``AWSMigration-*`` SSM documents, the CloudWatch
  agent's) plus one custom Command document (``Join-ADDomain``); their document types,
  timeouts, parameters, durations and SSM-style failure reasons are made up, not MGN's.
  They run one after the other, each to its end whether an earlier one failed or not, and
  end before the programme's live window does.
* ``ProgrammeSpec.late_item_share`` (default 0) makes that share of jobs show ``COMPLETED``
  (with endDateTime = their JOB_END's time) 20-90 simulated seconds before their last 1-2
  items are readable: a log that lags its job's status, which MGN does not promise against.
"""

from local.mgn_emulator.emulator import MgnEmulator
from local.mgn_emulator.errors import ApiError
from local.mgn_emulator.inventory import Inventory
from local.mgn_emulator.playback import Playback, PlaybackProgress
from local.mgn_emulator.programme import Programme, ProgrammeSpec, Timeline, generate_programme
from local.mgn_emulator.service import DEFAULT_MAX_RESULTS
from local.mgn_emulator.timefmt import format_datetime, make_item, parse_datetime

__all__ = [
    "DEFAULT_MAX_RESULTS",
    "ApiError",
    "Inventory",
    "MgnEmulator",
    "Playback",
    "PlaybackProgress",
    "Programme",
    "ProgrammeSpec",
    "Timeline",
    "format_datetime",
    "generate_programme",
    "make_item",
    "parse_datetime",
]
