"""The middle layer: set up, run, pace and record one comparison turn, and the vote rules.

UI handlers call this package; it calls ``hermes/``, ``backends/`` and ``store/`` and knows nothing
of Gradio widgets.

- ``actions``  one entry point per user action (start, regenerate, tool result, stop, record)
- ``prepare``  widget choices -> checked jobs, one per pane
- ``run``      one turn across N panes at once: fan-out, merge, metrics, the tool loop, stop
- ``state``    what a session holds: panes, exchanges, the latest turn id
- ``record``   finished panes -> the ``TurnRecord`` the store keeps
- ``votes``    the vote rules (which turn, votability, blind, rankings, gold edits)
- ``scripted`` what a script sends the named API, checked (earlier messages, a vote choice as text)
- ``served``   each backend's ``/info`` (model id, context window), asked once
- ``budget``   does a prompt fit its context window; ``pacing``: how often the UI is updated
"""
