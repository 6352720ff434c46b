"""Integration tests: the app and its parts over real HTTP on 127.0.0.1."""
