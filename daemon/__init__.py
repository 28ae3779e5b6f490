"""handmap.daemon: the process that wires the stages together.

Stages: source (camera, video, image folder, trace) → tracker (MediaPipe hands, faces,
body) → gesture engine (``handmap.gestures``) → mapping engine (``handmap.mappings``) →
output (pynput, uinput, dry-run). Around them: config, tray, notifications, control
socket, service files and the command line.
"""
