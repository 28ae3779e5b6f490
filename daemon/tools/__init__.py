"""Tools around the daemon: ``bench`` (speed beside a bare MediaPipe loop), ``doctor``
(what this machine offers, each gap with its fix), ``preview`` (the annotated view for
``handmap run --preview``), ``predictions`` and ``annotate`` (``handmap detect``'s JSON
and drawings)."""
