"""handmap.mappings: YAML profiles that turn gesture events into input actions.

Stages: ``actions`` (what an output backend is asked to do), the profile schema and
loader, and the engine (a pure state machine from gesture frames to actions).
"""
