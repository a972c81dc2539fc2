"""calltape: a SIP application server that runs Kazoo callflows, records calls and delivers every recording."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("calltape")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0"
