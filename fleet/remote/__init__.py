"""Layer 5: acting on devices from a distance, for the hotline.

- remote actions (pyinfra), one module each: ``restart_kiosk``, ``wipe_now``,
  ``clear_print_queue``, ``restart_service``, ``reboot``, ``wake``, ``push_blocklists``,
  ``collect_connlog`` (on ``blocklists`` and ``connlog``); listed in ``actions``, checked, run
  and recorded by ``act``; shared pieces in ``base`` and the runner ``pyinfra_run``;
- the diagnostics bundle (fabric): ``diag``;
- power by opening hours, the controller's side (wake what is due, the monthly report):
  ``power``; device events of the actions: ``record``.
"""
