"""Perception stage: MediaPipe models over frames to observations (hands, faces, body), and the model files.

``tracker.Tracker`` composes the stage: ``hands`` (the hand model, its tracking from
frame to frame, the look-ahead), ``faces``, ``body``; ``detected`` is what the hand model
hands the pipeline per frame; ``mediapipe_internals`` is the one module that reads the
pinned mediapipe's private internals; ``models`` finds or builds the model files;
``factory.make_tracker`` builds a ``Tracker`` from the configuration.
"""
