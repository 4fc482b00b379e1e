"""The local sandbox: the whole deployed system on one machine, in one command.

``python -m local.sandbox`` (``make sandbox``) synthesizes the CDK app, deploys the template into
moto's CloudFormation (moto's server, in this process, on 127.0.0.1), plays a simulated MGN
migration programme in the project's MGN emulator, runs the deployed functions' own code on
the schedule's ticks (the dispatcher, then the worker on the work queue, as its event source
mapping would), and shows what reached EventBridge, the alert topic and the event log group,
per tick, per account and per wave, ending with two exactly-once checks: the job log items,
and the derived events (each job's outcome, each post-launch action's statuses) against the
programme's ground truth. No AWS account, no Docker, no network.

Modules, one job each: ``synth`` (python app.py), ``moto_patches`` (what moto lacks, and
why), ``stack`` (the deployment as moto has it: both functions, the mapping, the queues),
``capture`` (the sandbox's own observers), ``function`` + ``lambda_runner`` (the deployed
code in Lambda-like subprocesses), ``drain`` (the work queue drained by the worker's
environments through ``esm_emulator``), ``simulation`` (simulated time), ``live_wave`` (MGN
activity after the first run: the live items) and ``live_inventory`` (its names in MGN),
``ticks`` (the schedule), ``progress`` (the live table), ``checkpoints`` (the checkpoint
table, read back), ``accounts`` (per-account progress), ``waves`` (per wave, from the names
on the exported events), ``queries`` (saved Logs Insights queries), ``check`` (items exactly
once), ``derived`` (the derived events, checked and shown), ``results`` (what reached the
sinks) and ``summary`` (as text), ``printer``, ``run`` (the
steps in order), ``keep_running`` (the schedule after the report, and a rule of one's own on
the bus), ``cli`` (options and signals).

One tick
--------

The dispatcher gets the Scheduled Event and sends one work request per account to the FIFO
work queue. The queue is then drained by ``--workers`` worker environments (at most the
deployed mapping's MaximumConcurrency), one batch of up to ``BatchSize`` records per
invocation, with partial batch responses: an account whose export needs more than one
invocation is handed on (a continuation request, worked on in the same tick), and an account
whose export fails has its record reported in ``batchItemFailures``; it comes back after the
worker's retry backoff, and FIFO holds the account's later requests behind it until then. The
tick ends when nothing else can be received (see ``sandbox.drain``), so a failing account
delays only itself; its records are shown as waiting for their retry, and reach the
dead-letter queue after maxReceiveCount receives. What each invocation did is read from the
JSON line it logged ("Work dispatched", "Batch finished"), as in CloudWatch Logs.

An account where MGN is not initialized (the programme's last account) is not a failure: the
worker records it in the account's checkpoint item (``uninitializedSince``, ``recheckAt``),
asks MGN again at most hourly, and its request is done. It shows as "not initialized" in each
tick and in the per-account table, never as failed, waiting or dead-lettered. The default
world therefore has no failing account: failed records, their retries and the dead-letter
queue appear only with MGN faults past the worker's retries (``--throttle-rate``,
``--error-rate``).

Simulated time against the exporter's real clock
------------------------------------------------

The exporter (the worker) is not told what time it is: it reads the real clock
(``time.time``) to choose its discovery window (``DescribeJobs`` from its last run's real
time minus ``DISCOVERY_OVERLAP_MINUTES``; on its first run, from now minus
``BACKFILL_DAYS``), to stamp log events and to measure lag. The sandbox adds no hook to
it. Instead the simulated MGN activity is laid in the recent past, so that everything MGN
reports is consistent with the real "now", and time is simulated by revealing the past bit by bit:

* The live window is ``ticks x step`` long and ends at the real time of the first tick
  (step: the deployed schedule's rate, 5 minutes, shortened if the ticks would not fit).
  Tick k sets the emulator's clock to ``window start + k x step``, and the emulator shows
  exactly what has happened by then: a job from its creation time on (``STARTED``), each
  item from its ``logDateTime`` on, the job ``COMPLETED`` once its ``JOB_END`` is out.
  The simulated clock is always behind the real one, so MGN never reports the future.
* A job first shown at tick k was created after the window started, and the exporter's
  discovery at tick k reaches back to its previous run's real time minus the overlap. The
  window is therefore kept 10 minutes shorter than ``DISCOVERY_OVERLAP_MINUTES`` (read from
  the deployed worker), leaving the run 10 real minutes before a job could be missed;
  ``--ticks``/``--tick-minutes`` that do not fit are refused with that explanation.
* Before the window, a history of completed waves (``--history-days``, inside
  ``BACKFILL_DAYS``) is shown from the start: the first tick backfills it, as a first
  deployment into a programme under way does.
* The exporter marks an item ``backfill: true`` when MGN logged it before the account's first
  export, on its real clock, and the alert rules match live items only. History and live
  window alike are logged before the first tick's real time, so all of them are backfill to
  the exporter, the items shown at later ticks included. At the last tick (with two ticks or
  more) the sandbox therefore lays a live wave (``sandbox.live_wave``): a test job and its
  cutover in the stack's own account, logged in real time between the account's first export
  (read from its checkpoint item) and the tick; from then on the emulator's clock is the real
  one. Its items are the live ones (``backfill: false``), and its failures (a failed
  conversion attempt, a failed cutover launch) are what the alert rules fire on. Its servers
  are in MGN, named, from the start, in an MGN wave of their own, ``Wave <n> - Live``
  (``sandbox.live_inventory``).
* With ``--keep-running`` the ticks go on after the report, on a real timer, MGN's clock the
  real one; the live wave is laid again (the same servers, new jobs) whenever the last round
  is over, so named live items keep coming (``sandbox.keep_running``).
* The worker closes a completed job once it is settled: COMPLETED_JOB_GRACE after MGN's
  ``endDateTime`` on its real clock, longer while post-launch actions run. Those actions and
  a job's late items come after the job shows COMPLETED, and before the last tick MGN's clock
  lags the real one by up to the window, so no fixed grace in real seconds fits: the sandbox
  sets the worker's local-only COMPLETED_JOB_GRACE_SECONDS and POST_LAUNCH_WAIT_SECONDS by
  phase (``sandbox.simulation``): longer than the window before the last tick (no job of it
  closes while some of it may be to come), 0 from the last tick on (all of it is shown), and
  with ``--keep-running`` the time a round of the live wave takes, plus a tick. The run goes
  on with drain ticks until every job is closed, its outcome sent, before the checks.
* The lag in the table is the worker's own ``maxLagSeconds`` less the distance between
  the real and the simulated clock at its invocation (the largest of the tick's
  invocations): how far behind simulated "now" the oldest
  exported item was, which is what the ExportLagSeconds metric would read in AWS. Log events
  are stamped with the items' own (past) times, which CloudWatch Logs accepts.

What is simplified: a programme's waves are compressed into the window (a job takes at most
40% of it, and a wave's cutover may start before its test has ended), and the live wave into
the few real seconds between the first and the last tick; ticks follow each
other as fast as the work queue drains rather than every 5 real minutes (at least a second
apart: the dispatcher deduplicates a tick's requests by the event's time, to the second); the
Scheduled Event's ``time`` is the real time of the invocation; the workers' retry backoff
and the queue's timeouts are real seconds, so a failed record comes back some ticks later.
"""
