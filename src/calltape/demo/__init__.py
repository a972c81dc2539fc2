"""calltape demo: a first run that shows every recording flow working, with its audio checked."""
