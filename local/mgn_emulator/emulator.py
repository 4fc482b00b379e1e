"""``MgnEmulator``: the test-facing API (set-up, faults, clock) around the HTTP server."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from local.loopback import BackgroundServer
from local.mgn_emulator.clock import SimClock
from local.mgn_emulator.dispatch import Dispatcher
from local.mgn_emulator.faults import FaultBook, FaultRates
from local.mgn_emulator.playback import Playback
from local.mgn_emulator.server import EmulatorHTTPServer
from local.mgn_emulator.service import MgnService, Settings
from local.mgn_emulator.store import PostLaunchExecution, Store
from local.mgn_emulator.timefmt import as_utc
from local.mgn_emulator.tokens import TokenCodec

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_mgn import MgnClient

    from local.mgn_emulator.inventory import Inventory
    from local.mgn_emulator.programme import Programme


# timeoutSeconds of a post-launch action when not given (the emulator's choice).
DEFAULT_ACTION_TIMEOUT_SECONDS = 600


class MgnEmulator(BackgroundServer):
    def __init__(
        self,
        caller_account: str = "111111111111",
        region: str = "us-east-1",
        *,
        token_ttl_seconds: float = 3600,
        max_page_size: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.caller_account = caller_account
        self.region = region
        super().__init__(host=host, port=port, thread_name="mgn-emulator")
        self._clock = SimClock()
        self._store = Store()
        self._store.put_account(caller_account, initialized=True, managed=False)
        self._tokens = TokenCodec()
        self._faults = FaultBook()
        self._settings = Settings(
            caller_account=caller_account,
            region=region,
            token_ttl_seconds=token_ttl_seconds,
            max_page_size=max_page_size,
        )
        self._dispatcher = Dispatcher(
            MgnService(self._store, self._tokens, self._clock, self._settings),
            self._faults,
            before_operation=self._sync_playbacks,
        )
        self._playbacks: list[Playback] = []

    def _new_server(self, address: tuple[str, int]) -> EmulatorHTTPServer:
        return EmulatorHTTPServer(address, self._dispatcher)

    def client(self, config: Config | None = None) -> MgnClient:
        """A boto3 ``mgn`` client for this emulator, with dummy credentials."""
        import boto3

        return boto3.client(
            "mgn",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            config=config,
        )

    # -- settings -------------------------------------------------------------------------------

    @property
    def token_ttl_seconds(self) -> float:
        return self._settings.token_ttl_seconds

    @token_ttl_seconds.setter
    def token_ttl_seconds(self, value: float) -> None:
        self._settings.token_ttl_seconds = value

    @property
    def max_page_size(self) -> int | None:
        return self._settings.max_page_size

    @max_page_size.setter
    def max_page_size(self, value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError("max_page_size must be at least 1 (or None)")
        self._settings.max_page_size = value

    # -- clock ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock.now()

    def set_now(self, when: datetime) -> None:
        self._clock.set_now(when)

    def advance(self, seconds: float) -> None:
        self._clock.advance(seconds)

    def run_clock(
        self, speed: float = 1.0, start: datetime | None = None, not_after_real: bool = True
    ) -> None:
        """Let simulated time run from ``start`` (default: the clock's now) at ``speed``
        simulated seconds per real second, never ahead of the real clock unless told."""
        self._clock.run(speed=speed, start=start, not_after_real=not_after_real)

    # -- simulated programmes -------------------------------------------------------------------

    def play(self, programme: Programme) -> Playback:
        """Register the programme's accounts, and reveal its jobs and items as the clock passes
        their times (before every request, and on ``Playback.reveal_until``)."""
        playback = Playback(self, programme)
        self._playbacks.append(playback)
        playback.reveal_until(self.now())
        return playback

    def _sync_playbacks(self) -> None:
        if self._playbacks:
            now = self.now()
            for playback in self._playbacks:
                playback.reveal_until(now)

    # -- state ----------------------------------------------------------------------------------

    def add_account(self, account_id: str, initialized: bool = True, managed: bool = True) -> None:
        """Register (or update) an account; managed accounts are listed by ListManagedAccounts."""
        self._store.put_account(account_id, initialized=initialized, managed=managed)

    def add_job(
        self,
        account_id: str,
        job_id: str | None = None,
        type: str = "LAUNCH",
        initiated_by: str = "START_TEST",
        status: str = "STARTED",
        created: datetime | None = None,
        source_server_ids: list[str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        now = self.now()
        return self._store.add_job(
            account_id,
            job_id=job_id,
            type=type,
            initiated_by=initiated_by,
            status=status,
            created=now if created is None else as_utc(created),
            source_server_ids=list(source_server_ids or []),
            tags=dict(tags or {}),
            now=now,
        )

    def append_items(self, account_id: str, job_id: str, items: list[dict[str, Any]]) -> None:
        """Append items to the job's log verbatim (not validated)."""
        self._store.append_items(account_id, job_id, items)

    def replace_items(self, account_id: str, job_id: str, items: list[dict[str, Any]]) -> None:
        """Rewrite the job's whole log (MGN never should: tests use it to shift a log)."""
        self._store.replace_items(account_id, job_id, items)

    def delete_job(self, account_id: str, job_id: str) -> None:
        """Delete a job and its log (MGN's DeleteJob)."""
        self._store.delete_job(account_id, job_id)

    def hide_job(self, account_id: str, job_id: str, answers: int = 1) -> None:
        """Leave a job out of its next ``answers`` DescribeJobs answers: a listing that misses
        a job MGN still has, for tests of what a client makes of one such answer."""
        self._store.hide_job(account_id, job_id, answers)

    def set_job_status(
        self, account_id: str, job_id: str, status: str, when: datetime | None = None
    ) -> None:
        """Set the job's status; ``when`` (default: now) is its endDateTime if COMPLETED."""
        self._store.set_job_status(
            account_id, job_id, status, self.now() if when is None else as_utc(when)
        )

    def set_launch_status(
        self, account_id: str, job_id: str, source_server_id: str, launch_status: str | None
    ) -> None:
        """Override one participating server's launchStatus (None: derive it from the job)."""
        self._store.set_launch_status(account_id, job_id, source_server_id, launch_status)

    def set_launched_instance(
        self, account_id: str, job_id: str, source_server_id: str, instance_id: str | None
    ) -> None:
        """The EC2 instance the job launched for the server (``launchedEc2InstanceID``);
        None: none (the member is left out)."""
        self._store.set_launched_instance(account_id, job_id, source_server_id, instance_id)

    def set_ssm_agent_discovered(
        self,
        account_id: str,
        job_id: str,
        source_server_id: str,
        when: datetime | None = None,
    ) -> None:
        """When the SSM agent on the server's launched instance was discovered
        (``postLaunchActionsStatus.ssmAgentDiscoveryDatetime``; default: now)."""
        self._store.set_ssm_agent_discovered(account_id, job_id, source_server_id, self._when(when))

    def set_post_launch_action(
        self,
        account_id: str,
        job_id: str,
        source_server_id: str,
        *,
        execution_id: str,
        action_name: str,
        document_name: str,
        status: str,
        document_type: str = "AUTOMATION",
        must_succeed: bool = False,
        timeout_seconds: int = DEFAULT_ACTION_TIMEOUT_SECONDS,
        failure_reason: str | None = None,
        parameters: dict[str, list[dict[str, str]]] | None = None,
        external_parameters: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """Add one post-launch action execution to the server in the job, or set the one with
        ``execution_id`` to exactly what is given (it keeps its place in the list).

        ``status``: IN_PROGRESS, SUCCESS or FAILED; ``document_type``: AUTOMATION or COMMAND;
        ``parameters``: ``{name: [{"parameterType": "STRING", "parameterName": ...}]}`` (SSM
        Parameter Store references), ``external_parameters``: ``{name: {"dynamicPath": ...}}``.
        Every value is checked against the model."""
        execution = PostLaunchExecution(
            execution_id=execution_id,
            action_name=action_name,
            document_name=document_name,
            document_type=document_type,
            status=status,
            must_succeed=must_succeed,
            timeout_seconds=timeout_seconds,
            failure_reason=failure_reason,
            parameters=parameters,
            external_parameters=external_parameters,
        )
        self._store.set_post_launch_action(account_id, job_id, source_server_id, execution)

    def add_source_server(
        self,
        account_id: str,
        source_server_id: str | None = None,
        *,
        is_archived: bool = False,
        life_cycle_state: str = "READY_FOR_TEST",
        replication_type: str = "AGENT_BASED",
        tags: dict[str, str] | None = None,
        application_id: str | None = None,
        hostname: str | None = None,
        fqdn: str | None = None,
        name: str | None = None,
    ) -> str:
        """A source server; ``hostname`` and ``fqdn`` are its identificationHints, ``name``
        its ``Name`` tag, ``application_id`` an application already in the account."""
        return self._store.add_source_server(
            account_id,
            source_server_id,
            is_archived=is_archived,
            life_cycle_state=life_cycle_state,
            replication_type=replication_type,
            tags=tags,
            application_id=application_id,
            hostname=hostname,
            fqdn=fqdn,
            name=name,
        )

    def assign_application(
        self, account_id: str, source_server_id: str, application_id: str | None
    ) -> None:
        """Put the server in an application of its account (None: in none)."""
        self._store.assign_application(account_id, source_server_id, application_id)

    def add_wave(
        self,
        account_id: str,
        wave_id: str | None = None,
        *,
        name: str,
        description: str = "",
        is_archived: bool = False,
        tags: dict[str, str] | None = None,
        created: datetime | None = None,
    ) -> str:
        """A wave (a random id unless given); ``created`` (default: now) is also its
        lastModifiedDateTime until it changes."""
        return self._store.add_wave(
            account_id,
            wave_id,
            name=name,
            description=description,
            is_archived=is_archived,
            tags=dict(tags or {}),
            created=self._when(created),
        )

    def add_application(
        self,
        account_id: str,
        application_id: str | None = None,
        *,
        name: str,
        description: str = "",
        wave_id: str | None = None,
        is_archived: bool = False,
        tags: dict[str, str] | None = None,
        created: datetime | None = None,
    ) -> str:
        """An application (a random id unless given), in ``wave_id`` (a wave already in the
        account) or in no wave."""
        return self._store.add_application(
            account_id,
            application_id,
            name=name,
            description=description,
            wave_id=wave_id,
            is_archived=is_archived,
            tags=dict(tags or {}),
            created=self._when(created),
        )

    def rename_wave(
        self,
        account_id: str,
        wave_id: str,
        name: str,
        *,
        description: str | None = None,
        when: datetime | None = None,
    ) -> None:
        """Rename the wave (and change its description if given) at ``when`` (default: now)."""
        self._store.update_wave(
            account_id, wave_id, name=name, description=description, now=self._when(when)
        )

    def rename_application(
        self,
        account_id: str,
        application_id: str,
        name: str,
        *,
        description: str | None = None,
        when: datetime | None = None,
    ) -> None:
        self._store.update_application(
            account_id, application_id, name=name, description=description, now=self._when(when)
        )

    def archive_wave(self, account_id: str, wave_id: str, archived: bool = True) -> None:
        """Archive the wave (``archived=False``: unarchive it)."""
        self._store.update_wave(account_id, wave_id, is_archived=archived, now=self.now())

    def archive_application(
        self, account_id: str, application_id: str, archived: bool = True
    ) -> None:
        self._store.update_application(
            account_id, application_id, is_archived=archived, now=self.now()
        )

    def assign_wave(
        self,
        account_id: str,
        application_id: str,
        wave_id: str | None,
        when: datetime | None = None,
    ) -> None:
        """Put the application in a wave of its account (None: in none)."""
        self._store.assign_wave(account_id, application_id, wave_id, self._when(when))

    def add_inventory(self, inventory: Inventory) -> None:
        """Add a planned inventory's waves, applications and named servers at once (its
        renames are a playback's to make, when their time comes)."""
        with self._store.lock:  # requests see all of it or none of it
            for wave in inventory.waves:
                self.add_wave(
                    wave.account_id,
                    wave.wave_id,
                    name=wave.name,
                    description=wave.description,
                    created=wave.created,
                )
            for app in inventory.applications:
                self.add_application(
                    app.account_id,
                    app.application_id,
                    name=app.name,
                    description=app.description,
                    wave_id=app.wave_id,
                    created=app.created,
                )
            for server in inventory.servers:
                self.add_source_server(
                    server.account_id,
                    server.source_server_id,
                    application_id=server.application_id,
                    hostname=server.hostname,
                    fqdn=server.fqdn,
                    name=server.name,
                )

    def _when(self, when: datetime | None) -> datetime:
        return self.now() if when is None else as_utc(when)

    def job_items(self, account_id: str, job_id: str) -> list[dict[str, Any]]:
        """A deep copy of the job's stored log."""
        with self._store.lock:
            return copy.deepcopy(self._store.job(account_id, job_id).items)

    # -- faults, tokens, calls ------------------------------------------------------------------

    def inject_fault(
        self,
        operation: str,
        error: str,
        times: int | None = 1,
        account_id: str | None = None,
        job_id: str | None = None,
        retry_after: int | float | str | None = None,
    ) -> None:
        """Answer ``error`` to the next ``times`` matching calls (None: until clear_faults)."""
        self._faults.add(
            operation,
            error,
            times=times,
            account_id=account_id,
            job_id=job_id,
            retry_after=retry_after,
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def set_fault_rates(
        self, throttle: float = 0.0, server_error: float = 0.0, seed: int | None = None
    ) -> None:
        """Answer any call with ThrottlingException (chance ``throttle``) or a 5xx (chance
        ``server_error``: InternalServerException or a bare 503), drawn per call."""
        self._faults.set_rates(FaultRates(throttle=throttle, server_error=server_error), seed)

    @property
    def injected_faults(self) -> Counter[str]:
        """How many calls each injected error answered (queued and random faults)."""
        return self._faults.injected

    def expire_tokens(self) -> None:
        self._tokens.expire_all()

    @property
    def calls(self) -> Counter[str]:
        """A snapshot of how many times each operation was called (faulted calls included)."""
        return self._dispatcher.calls

    def reset_calls(self) -> None:
        self._dispatcher.reset_calls()
