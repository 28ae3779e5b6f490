"""Runtime: the per-frame pipeline, its threads, the run loop, the daemon's state and the
composition root.

The pipeline's stages, in order (``pipeline``): frame preparation (mirror, colour) →
hands (``perception``) → gestures (``handmap.gestures``) → mapping (``mapping_stage``) →
output (``outputs``); then, at their own lower rate, face checks (``face_checks``).

- ``daemon``: the run loop (``Daemon.run``) and the ``Controller`` the tray, the socket
  and the hotkey talk to; ``idle``: the idle rate and the motion gate;
- ``pipeline``: one frame through the stages, timed (``StageClock``); ``worker``: the
  single-slot worker behind the ``handmap-after`` and ``handmap-faces`` threads;
  ``priority``: the face threads behind the pointer's path;
- ``state``: the daemon's state and the controller protocol; ``reload``: hot reload of
  edited files; ``assemble``: builds it all from the configuration; ``libpages``: the
  native libraries' cached pages dropped before they load.

The frame-in-flight rule (stated in ``daemon``): with overlap on, a frame's gestures,
mapping and output may still run on the ``handmap-after`` thread while the loop reads
the next frame; every mode change (pause, switch, reload, release) first calls
``Daemon._settle()``, which waits for that frame.
"""
