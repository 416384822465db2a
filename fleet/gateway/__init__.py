"""The public wifi gateway (layer 3): blocklists in the UT1 format, the legal connection log,
the portal's opening-hours gate.

``ut1``, ``connlog`` and ``portalhours`` use only the standard library: the roles
``content_filter`` and ``captive_portal`` install them on the gateway as its command-line tools
(``relais-blocklist``, ``relais-connlog``, ``relais-portal-hours``), so the code the tests
exercise is the code the gateway runs.  ``collect`` (the store side of the log), ``hoursfile``
(the opening intervals the controller renders for the gateway) and ``lists`` (the controller's
list store, and which lists and profile a gateway gets) run on the controller; the roles reach
the last two through their filter plugins.
"""
