"""The local sandbox: the whole deployed system on one machine, in one command.

``python -m sandbox`` (``make sandbox``) synthesizes the CDK app, deploys the template into
moto's CloudFormation (moto's server, in this process, on 127.0.0.1), plays a simulated MGN
migration programme in the project's MGN emulator, runs the deployed function's own code on
the schedule's ticks, and shows what reached EventBridge, the alert topic and the event log
group, ending with an exactly-once check. No AWS account, no Docker, no network.

Modules, one job each: ``synth`` (python app.py), ``moto_patches`` (what moto lacks, and
why), ``stack`` (the deployment as moto has it), ``capture`` (the sandbox's own observers),
``function`` + ``lambda_runner`` (the deployed code in a Lambda-like subprocess),
``simulation`` (simulated time), ``ticks`` (the schedule), ``progress`` (the live table),
``queries`` (saved Logs Insights queries), ``check`` (exactly once), ``results`` (what
reached the sinks) and ``summary`` (as text), ``printer``, ``run`` (the steps in order),
``cli`` (options and signals).

Simulated time against the exporter's real clock
------------------------------------------------

The exporter is not told what time it is: it reads the real clock (``time.time``) to choose
its discovery window (``DescribeJobs`` from its last run's real time minus
``DISCOVERY_OVERLAP_MINUTES``; on its first run, from now minus ``BACKFILL_DAYS``), to stamp
log events and to measure lag. The sandbox adds no hook to it. Instead the simulated MGN
activity is laid in the recent past, so that everything MGN reports is consistent with the
real "now", and time is simulated by revealing the past bit by bit:

* The live window is ``ticks x step`` long and ends at the real time of the first tick
  (step: the deployed schedule's rate, 5 minutes, shortened if the ticks would not fit).
  Tick k sets the emulator's clock to ``window start + k x step``, and the emulator shows
  exactly what has happened by then: a job from its creation time on (``STARTED``), each
  item from its ``logDateTime`` on, the job ``COMPLETED`` once its ``JOB_END`` is out.
  The simulated clock is always behind the real one, so MGN never reports the future.
* A job first shown at tick k was created after the window started, and the exporter's
  discovery at tick k reaches back to its previous run's real time minus the overlap. The
  window is therefore kept 10 minutes shorter than ``DISCOVERY_OVERLAP_MINUTES`` (read from
  the deployed function), leaving the run 10 real minutes before a job could be missed;
  ``--ticks``/``--tick-minutes`` that do not fit are refused with that explanation.
* Before the window, a history of completed waves (``--history-days``, inside
  ``BACKFILL_DAYS``) is shown from the start: the first tick backfills it, as a first
  deployment into a programme under way does.
* The lag in the table is the exporter's own ``maxLagSeconds`` less the distance between
  the real and the simulated clock at the tick: how far behind simulated "now" the oldest
  exported item was, which is what the ExportLagSeconds metric would read in AWS. Log events
  are stamped with the items' own (past) times, which CloudWatch Logs accepts.

What is simplified: a programme's waves are compressed into the window (a job takes at most
40% of it, and a wave's cutover may start before its test has ended); ticks follow each
other as fast as the exporter runs rather than every 5 real minutes; the Scheduled Event's
``time`` is the real time of the invocation.
"""
