"""The public wifi gateway (layer 3): blocklists in the UT1 format, the legal connection log,
the portal's opening-hours gate.

``ut1``, ``connlog`` and ``portalhours`` use only the standard library: the roles
``content_filter`` and ``captive_portal`` install them on the gateway as its command-line tools
(``relais-blocklist``, ``relais-connlog``, ``relais-portal-hours``), so the code the tests
exercise is the code the gateway runs.
"""
