"""Delivery: moving finished recordings from the spool to where they go, exactly once.

``worker.py`` takes due recordings from the outbox in the store and tries each with backoff; ``targets.py``
has one class per kind of place (HTTP(S) upload, FTP(S), the database, an account's storage plan);
``addresses.py`` builds Kazoo's upload URL and query; ``http.py``, ``ftp.py`` and ``storage_plan.py`` move
the bytes. Nothing here knows of calls or callflows: a recording arrives as its row (``DueRecording``).
"""
