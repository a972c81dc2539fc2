"""The directory: an account's stored documents and voicemail boxes, as the call model and the callflow modules
read them (the protocols are in ``switch/directory.py``)."""
