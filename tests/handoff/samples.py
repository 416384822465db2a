"""Test data of the hand-off: one France Services site with a borne (serial, location), its
referent and SAV supplier, and helpers that play an incident's life through the real lifecycle
functions (so events are queued exactly as in production)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from pydantic import SecretStr

from fleet.handoff.config import GlpiConfig, HandoffConfig, SmtpConfig
from fleet.incidents.lifecycle import assign, note, open_incident, resolve
from fleet.inventory.models import (
    Contact,
    Coordinates,
    Device,
    DeviceKind,
    Inventory,
    OpeningHours,
    OpeningRange,
    Site,
    SiteKind,
    Source,
    Supplier,
)
from fleet.store import Store

T0 = datetime(2026, 11, 23, 9, 47, tzinfo=UTC)  # a Monday, 10:47 in Florac
SITE_ID = "florac-fs"
BORNE = "florac-fs-borne1"
SERIAL = "BRN-48-0042-XK"
SUPPLIER = "Lozère Numérique SAV"
SUPPLIER_EMAIL = "sav-48@example.net"
INSTANCE = "test"

#: Values that must never appear in a ticket, a message or a log (positive control: they are
#: real inputs of the tests: tokens and passwords handed to the sender).
SECRETS = (
    "standin-app-token-1234",
    "standin-user-token-5678",
    "standin-client-secret-9012",
    "standin-password-3456",
    "smtp-secret-4711",
    "snmp-community-not-to-leak",
)


def _range(text: str) -> OpeningRange:
    a, b = text.split("-")
    h1, m1 = map(int, a.split(":"))
    h2, m2 = map(int, b.split(":"))
    return OpeningRange(start=h1 * 60 + m1, end=h2 * 60 + m2)


def florac() -> Site:
    day = (_range("09:00-12:00"), _range("13:30-17:00"))
    hours = OpeningHours(
        timezone="Europe/Paris",
        week={
            "mon": day,
            "tue": day,
            "wed": (_range("09:00-12:00"),),
            "thu": day,
            "fri": day,
            "sat": (),
            "sun": (),
        },
    )

    def device(hostname: str, kind: DeviceKind, ip: str, **vars_: Any) -> Device:
        return Device(
            hostname=hostname,
            kind=kind,
            ip=IPv4Address(ip),
            site_id=SITE_ID,
            vars=vars_,
            model=vars_.get("device_model"),
            serial=vars_.get("device_serial"),
            location=vars_.get("device_location"),
            source=Source(file="tests/handoff/samples.py"),
        )

    return Site(
        id=SITE_ID,
        name="France Services de Florac-Trois-Rivières",
        kind=SiteKind.FRANCE_SERVICES,
        address="Maison France Services, 18 avenue Jean Monestier",
        commune="Florac-Trois-Rivières",
        postcode="48400",
        coordinates=Coordinates(lat=44.32, lon=3.59),
        timezone="Europe/Paris",
        hours=hours,
        management=IPv4Network("10.48.12.0/24"),
        referent=Contact(
            name="Animatrice France Services",
            phone="+33 4 66 00 12 12",
            email="point-numerique-12@example.org",
        ),
        sav=Supplier(name=SUPPLIER, phone="+33 4 66 00 99 00", email=SUPPLIER_EMAIL, contract="SAV-48-2026"),
        devices=(
            device(
                BORNE,
                DeviceKind.BORNE,
                "10.48.12.21",
                device_serial=SERIAL,
                device_location="hall d'accueil, à gauche",
                device_model="Borne K22",
                snmp_community="snmp-community-not-to-leak",
            ),
            device("florac-fs-prn1", DeviceKind.PRINTER, "10.48.12.31"),
        ),
        source=Source(file="tests/handoff/samples.py"),
    )


def inventory() -> Inventory:
    return Inventory(root="tests/handoff", sites=(florac(),))


def glpi_config(url: str, api: str, timeout: float = 2.0) -> GlpiConfig:
    if api == "v1":
        return GlpiConfig(
            url=url,
            api="v1",
            app_token=SecretStr("standin-app-token-1234"),
            user_token=SecretStr("standin-user-token-5678"),
            timeout=timeout,
        )
    return GlpiConfig(
        url=url,
        api="v2",
        client_id="relais-client",
        client_secret=SecretStr("standin-client-secret-9012"),
        username="relais-bot",
        password=SecretStr("standin-password-3456"),
        timeout=timeout,
    )


def smtp_config(port: int, ca_file: str, timeout: float = 5.0) -> SmtpConfig:
    from pathlib import Path

    return SmtpConfig(
        host="127.0.0.1",
        port=port,
        sender="hotline@relais.example.org",
        user="relais-smtp",
        password=SecretStr("smtp-secret-4711"),
        ca_file=Path(ca_file),
        timeout=timeout,
    )


def config(glpi: GlpiConfig | None = None, smtp: SmtpConfig | None = None) -> HandoffConfig:
    return HandoffConfig(glpi=glpi, smtp=smtp, instance=INSTANCE)


# ------------------------------------------------------------- an incident's life ----------


def open_borne(store: Store, at: datetime = T0, device: str = BORNE) -> int:
    """The monitor opens an incident (the cycle's own call, inside its transaction)."""
    with store.write() as session:
        row = open_incident(
            session,
            device=device,
            site_id=SITE_ID,
            check="reachability",
            reason="no_answer",
            severity="major",
            title="ne répond plus",
            at=at,
        )
        assert row is not None
        return row.id


def add_note(
    store: Store, incident: int, at: datetime, text: str = "Écran noir signalé par l'accueil"
) -> None:
    note(store, incident, who="hotline-anne", text=text, at=at)


def hand_to_supplier(store: Store, incident: int, at: datetime) -> None:
    assign(store, incident, to=florac().sav, who="hotline-anne", at=at, text="Intervention sur place svp")


def resolve_it(store: Store, incident: int, at: datetime) -> None:
    resolve(store, incident, who="hotline-anne", at=at, text="Écran remplacé par le SAV")


def clock_at(at: datetime) -> Any:
    return lambda: at


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
