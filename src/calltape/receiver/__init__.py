"""The recording receiver: a hardened replacement for the PHP script at the end of Kazoo's recording page."""
