"""Recording: taps that turn a call's frames into audio files on disk as the call goes."""
