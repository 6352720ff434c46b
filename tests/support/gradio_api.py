"""Call the app's Gradio endpoints over HTTP the way a browser would, naming only the inputs a test cares about.

Every other input gets the value the page starts with, so a test keeps working when a tab
gains a widget. Calls go through the real Gradio queue (``gradio_client``), one browser
session per ``GradioApi``: ``gr.State`` values persist between its calls.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
from gradio_client import Client


class GradioApi:
    """One browser session's view of the app's named endpoints."""

    def __init__(self, url: str) -> None:
        self.client = Client(url, verbose=False)
        # every named endpoint, also the undocumented ones (the page's /send and /regenerate)
        info = httpx.get(f"{url.rstrip('/')}/gradio_api/info", params={"all_endpoints": "true"}, timeout=30)
        self._endpoints: dict[str, Any] = info.raise_for_status().json()["named_endpoints"]

    @property
    def session_hash(self) -> str:
        """The Gradio session this client stands for (the app's anonymous user id derives from it)."""
        return str(self.client.session_hash)

    def args(self, api_name: str, **values: Any) -> list[Any]:
        """Positional inputs for ``api_name``, else the defaults.

        A key names the first input whose label is the key, else the first whose label starts
        with it.
        """
        params = self._endpoints[api_name]["parameters"]
        labels = [str(p["label"]) for p in params]
        chosen: dict[int, Any] = {}
        for key, value in values.items():
            free = [i for i in range(len(params)) if i not in chosen]
            index = next((i for i in free if labels[i] == key), None)
            if index is None:
                index = next((i for i in free if labels[i].startswith(key)), None)
            if index is None:
                raise KeyError(f"{api_name} has no input labelled {key!r}")
            chosen[index] = value
        return [chosen[i] if i in chosen else p.get("parameter_default") for i, p in enumerate(params)]

    def call(self, api_name: str, **values: Any) -> Any:
        """Run ``api_name`` through the queue and wait for its outputs (raises when the handler raised)."""
        return self.client.predict(*self.args(api_name, **values), api_name=api_name)

    def close(self) -> None:
        """Stop the client's heartbeat (see ``close_client``)."""
        close_client(self.client)


def close_client(client: Client) -> None:
    """``client.close()`` without its wait: it tells the heartbeat thread to stop, then joins it for up to 1 s, but
    that thread only looks at the flag when the app's next heartbeat comes (every 15 s), so the join always waits 1 s.
    The thread (a daemon) ends at that next heartbeat or when the app stops, as it did after the join gave up."""
    threading.Thread(target=client.close, daemon=True).start()
