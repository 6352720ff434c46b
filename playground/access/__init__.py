"""Who may do what on a public deployment: identities, pseudonyms, roles, quotas and the request guard.

Knows HTTP and ``gr.Request`` only through plain values; the UI asks these modules before it acts.
"""
