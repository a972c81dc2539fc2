"""calltape dial: a command-line softphone on calltape's own SIP core and media."""
