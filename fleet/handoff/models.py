"""Typed models of the GLPI payloads the hand-off sends and reads.

What we send is strict (``extra="forbid"``: a typo is a bug caught here, not a field GLPI
silently drops); what GLPI answers keeps only the fields we use (``extra="ignore"``: GLPI
returns dozens more).  Field names are GLPI's own, read from its sources:

* API v1 (``apirest.php``, GLPI's ``apirest.md``): items are sent as ``{"input": {...}}`` with
  the database column names (``items_id``, ``tickets_id``, ``suppliers_id``, ``externalid``);
  ``Supplier_Ticket.type`` 2 is "assigned to" (``CommonITILActor::ASSIGN``).
* API v2, the "high-level API" of GLPI 11 (``api.php``, ``src/Glpi/Api/HL/Controller``):
  schema names (``external_id`` is mapped to ``externalid``; ``status`` is ``{id, name}`` on
  read and accepts an integer on write; a TeamMember is added with ``type``, ``id``, ``role``).

Ticket statuses (``CommonITILObject``): 1 new, 2 processing (assigned), 3 planned, 4 pending,
5 solved, 6 closed.  Urgency and impact: 1 very low ... 5 very high.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

STATUS_ASSIGNED = 2
STATUS_SOLVED = 5
STATUS_CLOSED = 6
ROLE_ASSIGNED = 2  # CommonITILActor::ASSIGN, Team::ROLE_ASSIGNED


class Sent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Read(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# ------------------------------------------------------------------ API v1 (apirest.php) ---


class V1Session(Read):
    session_token: str = Field(min_length=1)


class V1Created(Read):
    id: int
    message: str = ""


class V1Ticket(Read):
    id: int
    name: str = ""
    status: int = 1
    externalid: str | None = None


class V1TimelineItem(Read):
    """An ITILFollowup or an ITILSolution."""

    id: int
    content: str = ""


class V1ItemTicket(Read):
    id: int
    itemtype: str
    items_id: int


class V1SupplierTicket(Read):
    id: int
    suppliers_id: int
    type: int


class V1Named(Read):
    """A Supplier, Computer, Printer, NetworkEquipment... as listed by ``GET /:itemtype``."""

    id: int
    name: str | None = ""
    serial: str | None = None


class V1TicketInput(Sent):
    name: str = Field(max_length=255)
    content: str
    type: Literal[1] = 1  # incident
    urgency: int = Field(ge=1, le=5)
    impact: int = Field(ge=1, le=5)
    externalid: str


class V1TimelineInput(Sent):
    """ITILFollowup and ITILSolution share these fields."""

    itemtype: Literal["Ticket"] = "Ticket"
    items_id: int
    content: str
    is_private: Literal[0] = 0


class V1SolutionInput(Sent):
    itemtype: Literal["Ticket"] = "Ticket"
    items_id: int
    content: str


class V1ItemTicketInput(Sent):
    tickets_id: int
    itemtype: str
    items_id: int


class V1SupplierTicketInput(Sent):
    tickets_id: int
    suppliers_id: int
    type: Literal[2] = 2  # assigned to


class V1StatusInput(Sent):
    status: int = Field(ge=1, le=6)


# --------------------------------------------------------- API v2 (GLPI 11 api.php) --------


class V2Token(Read):
    access_token: str = Field(min_length=1)
    token_type: str = "Bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = 3600


class V2Created(Read):
    id: int
    href: str = ""


class V2Status(Read):
    id: int
    name: str = ""


class V2Ticket(Read):
    id: int
    name: str = ""
    external_id: str | None = None
    status: V2Status | None = None


class V2TimelineItem(Read):
    id: int
    content: str = ""


class V2TeamMember(Read):
    role: str | int
    href: str = ""
    name: str | None = ""


class V2Named(Read):
    id: int
    name: str | None = ""


class V2TicketInput(Sent):
    name: str = Field(max_length=255)
    content: str
    type: Literal[1] = 1
    urgency: int = Field(ge=1, le=5)
    impact: int = Field(ge=1, le=5)
    external_id: str


class V2TimelineInput(Sent):
    content: str
    is_private: bool = False


class V2SolutionInput(Sent):
    content: str


class V2TeamMemberInput(Sent):
    type: Literal["Supplier"] = "Supplier"
    id: int
    role: Literal[2] = 2


class V2StatusPatch(Sent):
    status: int = Field(ge=1, le=6)
