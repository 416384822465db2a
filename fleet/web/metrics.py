"""``GET /metrics``: Prometheus text exposition (prometheus_client), computed at each scrape
from the store through the same functions as the pages.  Counts only, never a person's name.

* ``relais_devices{site_kind, state}``: devices up / down / degraded / unknown, and
  ``expected_off`` (down or degraded with an explanation: site closed, maintenance, parent);
* ``relais_sites{site_kind, open}``: sites open or closed now;
* ``relais_open_incidents{severity}``;
* ``relais_handoff_queue``: hand-off rows waiting (pending or failed);
* ``relais_poll_duration_seconds{stat="avg"|"max"}`` and ``relais_poll_samples``: how long
  devices took to answer over the last 10 minutes of samples (the poller's per-device
  durations; one aggregate query, however many devices);
* ``relais_last_poll_age_seconds``: age of the newest sample.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from fleet.incidents.lifecycle import count_open
from fleet.store.models import SampleRow
from fleet.web.views import Views
from fleet.words import SEVERITIES

WINDOW = timedelta(minutes=10)


class RelaisCollector(Collector):
    def __init__(self, views: Views, clock: Callable[[], datetime]) -> None:
        self.views = views
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        ov = self.views.overview()
        devices = GaugeMetricFamily("relais_devices", "Devices by site kind and state.",
                                    labels=["site_kind", "state"])  # fmt: skip
        sites = GaugeMetricFamily("relais_sites", "Sites by kind, open or closed now.",
                                  labels=["site_kind", "open"])  # fmt: skip
        counts: dict[tuple[str, str], int] = {}
        open_counts: dict[tuple[str, str], int] = {}
        for row in ov.rows:
            kind = row.site.kind.value
            key = (kind, "true" if row.status.open else "false")
            open_counts[key] = open_counts.get(key, 0) + 1
            for d in row.status.devices:
                state = "expected_off" if d.state in ("down", "degraded") and d.explanation else d.state
                counts[(kind, state)] = counts.get((kind, state), 0) + 1
        for (kind, state), n in sorted(counts.items()):
            devices.add_metric([kind, state], n)
        for (kind, is_open), n in sorted(open_counts.items()):
            sites.add_metric([kind, is_open], n)
        yield devices
        yield sites
        incidents = GaugeMetricFamily("relais_open_incidents", "Open incidents by severity.",
                                      labels=["severity"])  # fmt: skip
        by_sev = count_open(self.views.store)
        for sev in (*SEVERITIES, *sorted(set(by_sev) - set(SEVERITIES))):
            incidents.add_metric([sev], by_sev.get(sev, 0))
        yield incidents
        yield GaugeMetricFamily("relais_handoff_queue",
                                "Hand-off rows waiting to be delivered (pending or failed).",
                                value=self.views.handoff_waiting())  # fmt: skip
        now = self.clock()
        with self.views.store.read() as session:
            n, avg, top = session.execute(
                select(func.count(), func.avg(SampleRow.elapsed_ms), func.max(SampleRow.elapsed_ms))
                .where(SampleRow.at >= now - WINDOW)
            ).one()
            newest = session.scalar(select(func.max(SampleRow.at)))
        poll = GaugeMetricFamily("relais_poll_duration_seconds",
                                 "Time devices took to answer a poll, over the last 10 minutes.",
                                 labels=["stat"])  # fmt: skip
        if n:
            poll.add_metric(["avg"], float(avg) / 1000.0)
            poll.add_metric(["max"], float(top) / 1000.0)
        yield poll
        yield GaugeMetricFamily("relais_poll_samples", "Polls recorded over the last 10 minutes.",
                                value=int(n or 0))  # fmt: skip
        if newest is not None:
            yield GaugeMetricFamily("relais_last_poll_age_seconds", "Seconds since the newest poll sample.",
                                    value=max(0.0, (now - newest).total_seconds()))  # fmt: skip


def exposition(views: Views, clock: Callable[[], datetime]) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RelaisCollector(views, clock))
    return generate_latest(registry), CONTENT_TYPE_LATEST
