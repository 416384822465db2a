"""Profiles: what to poll on each kind of device and how to read it, loaded from YAML.

A profile (``monitoring/profiles/<kind>.yml``) lists *readers*; each reader names the numeric
OIDs it needs and a few parameters::

    kind: printer
    max_repetitions: 20
    read:
      system:
        oids: {uptime: 1.3.6.1.2.1.1.3.0, descr: 1.3.6.1.2.1.1.1.0}
      printer_supplies:
        oids: {descr: 1.3.6.1.2.1.43.11.1.1.6, max: 1.3.6.1.2.1.43.11.1.1.8,
               level: 1.3.6.1.2.1.43.11.1.1.9}

A reader knows which of its names are scalars (one GET value) and which are table columns (a
GETBULK walk bounded to the column's subtree) and turns the values into metrics with the exact
names of the rules contract (``uptime_s``, ``supply_pct:<description>``, ...).  The poller
requests only what the profile lists.

The file's schema is pydantic (:class:`ProfileIn`, one model per reader generated from
:data:`READERS`), read with the inventory's YAML loader and validation
(:func:`fleet.inventory.validate.validate_with_lines`), like ``monitoring/rules.yml``: an
error is one line ``file:line: field: message`` naming the value refused
(``switch.yml:12: read.system.oids.uptime: '1.3.6.1.2.1.1.3': a scalar OID ends in .0``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, create_model, model_validator

from fleet.errors import ConfigError, Problem
from fleet.inventory.models import DeviceKind
from fleet.inventory.validate import config_error, validate_with_lines
from fleet.inventory.yamlsrc import line_of, load_yaml
from fleet.monitor import ber

Oid = tuple[int, ...]
Cell = tuple[int, ber.Value]
Metrics = dict[str, float | int | str]

HR_STORAGE_RAM: Final = (1, 3, 6, 1, 2, 1, 25, 2, 1, 2)
HR_STORAGE_FIXED_DISK: Final = (1, 3, 6, 1, 2, 1, 25, 2, 1, 4)

PRINTER_ERROR_FLAGS: Final = (
    "low_paper",
    "no_paper",
    "low_toner",
    "no_toner",
    "door_open",
    "jammed",
    "offline",
    "service_requested",
    "input_tray_missing",
    "output_tray_missing",
    "marker_supply_missing",
    "output_near_full",
    "output_full",
    "input_tray_empty",
    "overdue_prevent_maint",
)
"""hrPrinterDetectedErrorState bits, RFC 3805 order: first octet, most significant bit first."""


@dataclass(frozen=True, slots=True)
class Data:
    """What one device answered, by reader-local name."""

    scalars: Mapping[str, Cell]
    columns: Mapping[str, Mapping[Oid, Cell]]

    def scalar(self, name: str) -> Cell | None:
        return self.scalars.get(name)

    def column(self, name: str) -> Mapping[Oid, Cell]:
        return self.columns.get(name, {})


def _text(value: ber.Value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").replace("\x00", "").strip()
    if value is None:
        return ""
    return str(value)


def _number(cell: Cell | None) -> int | None:
    if cell is None or cell[0] in ber.EXCEPTIONS:
        return None
    value = cell[1]
    return value if isinstance(value, int) else None


def _label(base: str, used: set[str], index: Oid) -> str:
    label = base or ".".join(map(str, index))
    if label in used:
        label = f"{label}#{'.'.join(map(str, index))}"
    used.add(label)
    return label


# --------------------------------------------------------------------------------------------
# Readers


def read_system(data: Data, _params: Mapping[str, Any]) -> Metrics:
    out: Metrics = {}
    for name in ("hr_uptime", "uptime"):  # host uptime first: it survives an agent restart
        ticks = _number(data.scalar(name))
        if ticks is not None:
            out["uptime_s"] = ticks // 100
            break
    descr = data.scalar("descr")
    if descr is not None and descr[0] == ber.OCTET_STRING:
        out["sys_descr"] = _text(descr[1])
    return out


def read_cpu(data: Data, _params: Mapping[str, Any]) -> Metrics:
    loads = [v for v in (_number(c) for c in data.column("load").values()) if v is not None]
    return {"cpu_load_pct": round(sum(loads) / len(loads), 2)} if loads else {}


def read_storage(data: Data, _params: Mapping[str, Any]) -> Metrics:
    out: Metrics = {}
    types, descrs = data.column("type"), data.column("descr")
    sizes, useds = data.column("size"), data.column("used")
    ram_size = ram_used = 0
    used_labels: set[str] = set()
    for index, (_tag, kind) in types.items():
        size, used = _number(sizes.get(index)), _number(useds.get(index))
        if size is None or used is None or size <= 0:
            continue
        if kind == HR_STORAGE_RAM:
            ram_size += size
            ram_used += used
        elif kind == HR_STORAGE_FIXED_DISK:
            descr = descrs.get(index)
            label = _label(_text(descr[1]) if descr else "", used_labels, index)
            out[f"disk_used_pct:{label}"] = round(100.0 * used / size, 2)
    if ram_size > 0:
        out["mem_used_pct"] = round(100.0 * ram_used / ram_size, 2)
    return out


def read_processes(data: Data, params: Mapping[str, Any]) -> Metrics:
    running = {_text(v).rsplit("/", 1)[-1] for _t, v in data.column("name").values()}
    return {f"proc_running:{name}": int(name in running) for name in params.get("expect", ())}


def read_process_checks(data: Data, params: Mapping[str, Any]) -> Metrics:
    """UCD-SNMP-MIB prTable (snmpd's ``proc NAME`` directives): a few rows, one per watched
    name, instead of the whole process table, whose hrSWRunParameters would show the guests'
    command lines.  A name without a row, or with prCount 0, is not running."""
    counts = data.column("count")
    running = {
        _text(name)
        for index, (_tag, name) in data.column("name").items()
        if (_number(counts.get(index)) or 0) > 0
    }
    return {f"proc_running:{name}": int(name in running) for name in params.get("expect", ())}


def read_interfaces(data: Data, _params: Mapping[str, Any]) -> Metrics:
    out: Metrics = {}
    status, names, descrs = data.column("oper_status"), data.column("name"), data.column("descr")
    up = 0
    used: set[str] = set()
    for index, cell in status.items():
        state = _number(cell)
        if state is None:
            continue
        name = names.get(index)
        descr = descrs.get(index)
        base = _text(name[1]) if name and _text(name[1]) else (_text(descr[1]) if descr else "")
        is_up = int(state == 1)
        up += is_up
        out[f"if_up:{_label(base, used, index)}"] = is_up
    if status:
        out["if_up_count"] = up
        out["if_count"] = len(used)
    return out


def read_clients(data: Data, _params: Mapping[str, Any]) -> Metrics:
    total, seen = 0, False
    for name, column in data.columns.items():
        for cell in column.values():
            value = _number(cell)
            if value is None:
                continue
            seen = True
            total += value if name.startswith("sum") else 1
    return {"clients_associated": total} if seen else {}


def read_printer_supplies(data: Data, _params: Mapping[str, Any]) -> Metrics:
    out: Metrics = {}
    descrs, maxes, levels = data.column("descr"), data.column("max"), data.column("level")
    used: set[str] = set()
    for index, dcell in descrs.items():
        label = _label(_text(dcell[1]), used, index)
        level, maximum = _number(levels.get(index)), _number(maxes.get(index))
        if level is None:
            continue
        if level == -3:
            out[f"supply_state:{label}"] = "some_remaining"
        elif level >= 0 and maximum is not None and maximum > 0:
            out[f"supply_pct:{label}"] = round(min(100.0, 100.0 * level / maximum), 2)
        # -2 (unknown), -1 (other) or no usable maximum: nothing to say
    return out


def read_printer_errors(data: Data, _params: Mapping[str, Any]) -> Metrics:
    bits: set[str] = set()
    cells = data.column("state")
    if not cells:
        return {}
    for _tag, value in cells.values():
        if not isinstance(value, bytes):
            continue
        for i, flag in enumerate(PRINTER_ERROR_FLAGS):
            octet, bit = divmod(i, 8)
            if octet < len(value) and value[octet] & (0x80 >> bit):
                bits.add(flag)
    out: Metrics = {f"printer_error:{flag}": 1 for flag in PRINTER_ERROR_FLAGS if flag in bits}
    out["printer_errors"] = len(bits)
    return out


def read_ups(data: Data, _params: Mapping[str, Any]) -> Metrics:
    """UPS-MIB (RFC 1628) first; APC PowerNet-MIB scalars when the UPS-MIB is absent."""
    out: Metrics = {}
    source = _number(data.scalar("output_source"))
    apc_output = _number(data.scalar("apc_output_status"))
    if source is not None:
        out["ups_on_battery"] = int(source == 5)
    elif apc_output is not None:
        out["ups_on_battery"] = int(apc_output == 3)  # upsBasicOutputStatus onBattery(3)
    charge: float | int | None = _number(data.scalar("charge"))
    if charge is None:
        charge = _number(data.scalar("apc_capacity"))
    if charge is None:
        tenths = _number(data.scalar("apc_capacity_hp"))  # upsHighPrecBatteryCapacity, 0.1 %
        charge = tenths / 10 if tenths is not None else None
    if charge is not None:
        out["ups_charge_pct"] = charge
    runtime = _number(data.scalar("runtime_min"))
    if runtime is not None:
        out["ups_runtime_min"] = runtime
    else:
        ticks = _number(data.scalar("apc_runtime"))
        if ticks is not None:
            out["ups_runtime_min"] = ticks // 6000
    status = _number(data.scalar("battery_status"))
    if status is None:
        apc = _number(data.scalar("apc_battery_status"))  # 1 unknown 2 normal 3 low 4 fault
        status = apc if apc in (1, 2, 3, 4) else None
    if status is not None:
        out["ups_battery_status"] = status
    return out


@dataclass(frozen=True, slots=True)
class ReaderSpec:
    scalars: frozenset[str]
    columns: frozenset[str]
    required: frozenset[str]
    params: frozenset[str]
    read: Callable[[Data, Mapping[str, Any]], Metrics]
    any_column: bool = False  # column names are free-form (clients: sum_*, count_*)


READERS: Final[Mapping[str, ReaderSpec]] = MappingProxyType({
    "system": ReaderSpec(
        frozenset({"uptime", "hr_uptime", "descr"}), frozenset(), frozenset(), frozenset(),
        read_system,
    ),
    "cpu": ReaderSpec(
        frozenset(), frozenset({"load"}), frozenset({"load"}), frozenset(), read_cpu
    ),
    "storage": ReaderSpec(
        frozenset(), frozenset({"type", "descr", "size", "used"}),
        frozenset({"type", "descr", "size", "used"}), frozenset(), read_storage,
    ),
    "processes": ReaderSpec(
        frozenset(), frozenset({"name"}), frozenset({"name"}), frozenset({"expect"}),
        read_processes,
    ),
    "process_checks": ReaderSpec(
        frozenset(), frozenset({"name", "count"}), frozenset({"name", "count"}),
        frozenset({"expect"}), read_process_checks,
    ),
    "interfaces": ReaderSpec(
        frozenset(), frozenset({"descr", "oper_status", "name"}),
        frozenset({"descr", "oper_status"}), frozenset(), read_interfaces,
    ),
    "clients": ReaderSpec(
        frozenset(), frozenset(), frozenset(), frozenset(), read_clients, any_column=True
    ),
    "printer_supplies": ReaderSpec(
        frozenset(), frozenset({"descr", "max", "level"}), frozenset({"descr", "max", "level"}),
        frozenset(), read_printer_supplies,
    ),
    "printer_errors": ReaderSpec(
        frozenset(), frozenset({"state"}), frozenset({"state"}), frozenset(),
        read_printer_errors,
    ),
    "ups": ReaderSpec(
        frozenset({
            "output_source", "charge", "runtime_min", "battery_status",
            "apc_output_status", "apc_capacity", "apc_capacity_hp", "apc_runtime",
            "apc_battery_status",
        }),
        frozenset(), frozenset(), frozenset(), read_ups,
    ),
})


# --------------------------------------------------------------------------------------------
# Profiles


@dataclass(frozen=True, slots=True)
class Reader:
    name: str
    spec: ReaderSpec
    scalars: Mapping[str, Oid]
    columns: Mapping[str, Oid]
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Profile:
    """A compiled profile: the de-duplicated OIDs to request and the readers to apply."""

    kind: str
    readers: tuple[Reader, ...]
    max_repetitions: int = 20
    max_rows: int = 1000
    source: str = ""
    scalar_oids: tuple[Oid, ...] = field(init=False)
    column_oids: tuple[Oid, ...] = field(init=False)

    def __post_init__(self) -> None:
        scalars: dict[Oid, None] = {}
        columns: dict[Oid, None] = {}
        for r in self.readers:
            scalars.update(dict.fromkeys(r.scalars.values()))
            columns.update(dict.fromkeys(r.columns.values()))
        object.__setattr__(self, "scalar_oids", tuple(scalars))
        object.__setattr__(self, "column_oids", tuple(columns))

    def metrics(
        self, scalars: Mapping[Oid, Cell], columns: Mapping[Oid, Mapping[Oid, Cell]]
    ) -> Metrics:
        """Apply every reader to what the device answered."""
        out: Metrics = {}
        for r in self.readers:
            data = Data(
                {n: scalars[o] for n, o in r.scalars.items() if o in scalars},
                {n: columns[o] for n, o in r.columns.items() if o in columns},
            )
            out.update(r.spec.read(data, r.params))
        return out


ProfileSet = Mapping[str, Profile]
"""Profiles by device kind (``DeviceKind`` value)."""


# --------------------------------------------------------------------------------------------
# The profile file's schema: pydantic models, errors located by the inventory's validation


def _oid_text(value: object) -> Oid:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a numeric OID: write it as text, digits and dots "
                         "(1.3.6.1.2.1.1.3.0)")
    try:
        return ber.parse_oid(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a numeric OID (digits and dots: "
                         "1.3.6.1.2.1.1.3.0)") from None


def _scalar_oid(value: object) -> Oid:
    oid = _oid_text(value)
    if oid[-1] != 0:
        raise ValueError(f"{value!r}: a scalar OID ends in .0 (one GET value)")
    return oid


ScalarOid = Annotated[Oid, PlainValidator(_scalar_oid)]
"""A scalar's numeric OID, instance ``.0`` included (``1.3.6.1.2.1.1.3.0``)."""
ColumnOid = Annotated[Oid, PlainValidator(_oid_text)]
"""A table column's numeric OID (walked with GETBULK, bounded to its subtree)."""


class _In(BaseModel):
    """Base of the profile file's models: strict, frozen, unknown keys refused."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    @classmethod
    def unknown_key_hint(cls, key: str) -> str:
        """The keys this mapping accepts, when the unknown one is close to none of them."""
        return f"; known: {', '.join(cls.model_fields)}"


def _reader_model(name: str, spec: ReaderSpec) -> type[_In]:
    """The model of one reader's body: ``oids`` with the names the reader knows (those it
    requires required), and the parameters it takes (``expect``: the process names)."""
    oids: Any
    if spec.any_column:
        oids = dict[str, ColumnOid]
    else:
        names: dict[str, Any] = {}
        for key in sorted(spec.scalars):
            names[key] = (ScalarOid, ... if key in spec.required else None)
        for key in sorted(spec.columns):
            names[key] = (ColumnOid, ... if key in spec.required else None)
        oids = create_model(f"Oids_{name}", __base__=_In, **names)
    body: dict[str, Any] = {"oids": (oids, ...)}
    if "expect" in spec.params:
        body["expect"] = (list[str], Field(default_factory=list))
    return create_model(f"Reader_{name}", __base__=_In, **body)


class _Readers(_In):
    """``read:``: at least one reader, by name."""

    @model_validator(mode="after")
    def _some(self) -> _Readers:
        if not self.model_fields_set:
            raise ValueError(f"name at least one reader: {', '.join(READERS)}")
        return self


def _readers_model() -> type[_Readers]:
    """``read:``'s model: one field per reader of :data:`READERS`; absent: None (a default is
    not validated), written empty (``system:``): refused."""
    fields: dict[str, Any] = {
        name: (_reader_model(name, spec), None) for name, spec in READERS.items()
    }
    return create_model("ReadersIn", __base__=_Readers, **fields)


_ReadersIn: Final = _readers_model()


class ProfileIn(_In):
    """``monitoring/profiles/<kind>.yml`` as written."""

    kind: Annotated[DeviceKind, Field(strict=False)]  # the text of a device kind
    description: str = ""
    max_repetitions: int = Field(20, ge=1, le=200)
    max_rows: int = Field(1000, ge=1)
    read: _ReadersIn  # type: ignore[valid-type]  # a model built from READERS at import


def parse_profile(raw: Any, source: str) -> Profile:
    """A profile from YAML data (:func:`fleet.inventory.yamlsrc.load_yaml` for line numbers,
    or plain data); each error is a :class:`ConfigError` ``source:line: field: message``."""
    spec = validate_with_lines(ProfileIn, raw, source, error=config_error)
    readers: list[Reader] = []
    for name in raw["read"]:  # the file's order: the readers apply in it
        body = getattr(spec.read, name)
        given = body.oids if isinstance(body.oids, dict) else dict(body.oids)
        oids = {key: given[key] for key in raw["read"][name]["oids"]}  # the file's order
        reader = READERS[name]
        scalars = {k: v for k, v in oids.items() if k in reader.scalars}
        columns = {k: v for k, v in oids.items() if k not in reader.scalars}
        params = {p: getattr(body, p) for p in reader.params if p in body.model_fields_set}
        readers.append(Reader(name, reader, scalars, columns, params))
    return Profile(spec.kind.value, tuple(readers), spec.max_repetitions, spec.max_rows, source)


def load_profile(path: Path) -> Profile:
    """One profile file; errors name the file and the line (YAML syntax included)."""
    problems: list[Problem] = []
    raw = load_yaml(path, str(path), problems)
    if problems:
        raise config_error(problems)
    profile = parse_profile(raw, str(path))
    if path.stem != profile.kind:
        raise config_error([Problem(str(path), line_of(raw, "kind"), "kind", profile.kind,
                                    f"{profile.kind!r}, but the file name says {path.stem!r}")])
    return profile


def load_profiles(directory: Path) -> dict[str, Profile]:
    """``monitoring/profiles/<kind>.yml``, one per device kind present there."""
    if not directory.is_dir():
        raise ConfigError(f"{directory}: profile directory not found")
    profiles = {p.kind: p for p in map(load_profile, sorted(directory.glob("*.yml")))}
    if not profiles:
        raise ConfigError(f"{directory}: no profile (*.yml) found")
    return profiles
