"""Carrier routing for off-net calls, as Kazoo 4.3's stepswitch and number manager do it (pure, no I/O)."""
