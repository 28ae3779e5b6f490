"""Perception stage: MediaPipe models over frames to observations (hands, faces, body), and the model files."""
