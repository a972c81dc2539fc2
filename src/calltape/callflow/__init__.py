"""Kazoo-style callflows: the engine that walks a flow and the modules it runs."""
