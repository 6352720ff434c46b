"""The middle layer: set up, run, pace and record one comparison turn, and the vote rules.

UI handlers call this package; it calls ``hermes/``, ``backends/`` and ``store/`` and knows nothing
of Gradio widgets.
"""
