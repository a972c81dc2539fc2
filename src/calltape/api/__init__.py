"""The REST API, in Kazoo crossbar's conventions."""
