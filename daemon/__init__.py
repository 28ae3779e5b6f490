"""handmap.daemon: the process that wires the stages together.

A frame goes through the subpackages in this order:

- ``capture``: frames in (camera, video file, image folder, landmark trace);
- ``perception``: MediaPipe hands, faces and body over the frame, to observations;
- ``handmap.gestures`` (pure): poses, hand identities, the pointer, swipes, face touch;
- ``handmap.mappings`` (pure): the active profile turns gesture events into actions;
- ``outputs``: actions out (pynput, uinput, dry-run), every held input tracked.

``runtime`` runs that pipeline (its threads, the run loop, idle, hot reload) and builds
everything (``runtime.assemble``). Around it: ``desktop`` (session kind, window
watchers, tray, notifications, hotkey, login service), ``control`` (the control socket),
``history`` (face-touch episodes), ``tools`` (bench, doctor, preview, detect's drawing),
``cli`` (the ``handmap`` command), ``config`` (config.yaml, typed), ``paths``, ``files``
(atomic writes) and ``log``.
"""
