"""One driver per vendor CLI, all behind :class:`~fleet.netdev.drivers.base.Driver`."""

from __future__ import annotations

from fleet.errors import NetdevError
from fleet.inventory.network import Platform
from fleet.netdev.drivers.base import Driver, Observer, Rendered, Session
from fleet.netdev.drivers.ios import IosDriver


def driver_for(platform: Platform) -> Driver:
    from fleet.netdev.drivers.aruba_instant import ArubaInstantDriver
    from fleet.netdev.drivers.procurve import ProcurveDriver
    from fleet.netdev.drivers.routeros import RouterOsDriver

    drivers: dict[Platform, type[Driver]] = {
        Platform.CISCO_IOS: IosDriver,
        Platform.HP_PROCURVE: ProcurveDriver,
        Platform.ARUBA_INSTANT: ArubaInstantDriver,
        Platform.MIKROTIK_ROUTEROS: RouterOsDriver,
    }
    try:
        return drivers[platform]()
    except KeyError:
        raise NetdevError(f"no driver for platform {platform!r}", reason="platform") from None


__all__ = ["Driver", "IosDriver", "Observer", "Rendered", "Session", "driver_for"]
