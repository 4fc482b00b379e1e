"""An account's servers, applications and waves, as the migration team names them: what turns
`s-0d6c07b3fe008f636` into "fin-db-01, Payroll, Wave 1 - Finance" on every event.

Pure: built from DescribeSourceServers (only the servers items name), ListApplications and
ListWaves records; no AWS I/O.
A name MGN does not have stays out (never invented): a server with no application has no
`application` and no `wave`, a server the inventory does not hold has none of the three.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServerNames:
    source_server_id: str
    hostname: str | None = None
    fqdn: str | None = None
    name: str | None = None  # the server's Name tag
    application_id: str | None = None


@dataclass
class Inventory:
    """What is known of an account: the servers asked for so far (None: MGN does not list it),
    and its applications and waves."""

    servers: dict[str, ServerNames | None] = field(default_factory=dict)
    applications: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    waves: dict[str, str | None] = field(default_factory=dict)

    def asked(self, source_server_id: str) -> bool:
        return source_server_id in self.servers

    def knows(self, source_server_id: str) -> bool:
        return self.servers.get(source_server_id) is not None

    def add_servers(self, asked: Iterable[str], records: Iterable[Mapping[str, Any]]) -> None:
        """The answer for the servers `asked` for: the ones not in `records` are absent."""
        found = {names.source_server_id: names for names in map(_server, records) if names}
        for server_id in asked:
            self.servers[server_id] = found.get(server_id)
        self.servers.update(found)

    def names(self, source_server_id: object) -> dict[str, Any]:
        """The event fields naming the server, its application and its wave (empty when the
        item names no server, or one the inventory does not hold)."""
        if not isinstance(source_server_id, str):
            return {}
        server = self.servers.get(source_server_id)
        if server is None:
            return {}
        fields: dict[str, Any] = {
            "sourceServer": _present(
                sourceServerID=server.source_server_id,
                hostname=server.hostname,
                fqdn=server.fqdn,
                name=server.name,
            )
        }
        if server.application_id is None or server.application_id not in self.applications:
            return fields
        app_name, wave_id = self.applications[server.application_id]
        fields["application"] = _present(applicationID=server.application_id, name=app_name)
        if wave_id is not None and wave_id in self.waves:
            fields["wave"] = _present(waveID=wave_id, name=self.waves[wave_id])
        return fields


def inventory_from(
    servers: Iterable[Mapping[str, Any]],
    applications: Iterable[Mapping[str, Any]],
    waves: Iterable[Mapping[str, Any]],
) -> Inventory:
    """An inventory from the three calls' records; records without an id are left out."""
    inventory = Inventory(
        applications={
            str(record["applicationID"]): (_text(record.get("name")), _text(record.get("waveID")))
            for record in applications
            if _text(record.get("applicationID"))
        },
        waves={
            str(record["waveID"]): _text(record.get("name"))
            for record in waves
            if _text(record.get("waveID"))
        },
    )
    inventory.add_servers((), servers)
    return inventory


def _server(record: Mapping[str, Any]) -> ServerNames | None:
    server_id = _text(record.get("sourceServerID"))
    if server_id is None:
        return None
    properties = record.get("sourceProperties")
    hints = properties.get("identificationHints") if isinstance(properties, Mapping) else None
    hints = hints if isinstance(hints, Mapping) else {}
    tags = record.get("tags")
    return ServerNames(
        source_server_id=server_id,
        hostname=_text(hints.get("hostname")),
        fqdn=_text(hints.get("fqdn")),
        name=_text(tags.get("Name")) if isinstance(tags, Mapping) else None,
        application_id=_text(record.get("applicationID")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _present(**fields: str | None) -> dict[str, str]:
    return {key: value for key, value in fields.items() if value is not None}
