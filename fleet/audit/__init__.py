"""The monthly audit and the funder statistics (layer 6).

Reads the store (state history, incidents, deploys, usage counts), runs the same
:mod:`fleet.checks` as a deploy against the live hosts, adds the auditor's premises checklist
and weekly counting grid, and writes a signed report (HTML, PDF, CSV).

- :mod:`fleet.audit.period`: the audited month in a site's timezone; interval arithmetic;
- :mod:`fleet.audit.availability`: availability during opening hours only;
- :mod:`fleet.audit.usage`: wipe records -> usage counts per station per day;
- :mod:`fleet.audit.figures`: incidents, deploys, usage and wipe figures of a month;
- :mod:`fleet.audit.checklist`, :mod:`fleet.audit.grid`: what the auditor enters;
- :mod:`fleet.audit.report`, :mod:`fleet.audit.charts`, :mod:`fleet.audit.signing`: the report;
- :mod:`fleet.audit.run`: ``fleet audit run``; :mod:`fleet.audit.stats`: ``fleet stats``.
"""
