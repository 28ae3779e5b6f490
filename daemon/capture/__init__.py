"""Capture stage: where frames come from (camera, video file, image folder, landmark trace)."""
