"""Recordings encrypted at rest: the keyring, and files sealed with a data key per recording."""
