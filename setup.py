"""The one compiled module: the relay's reader (``calltape.media._relay_reader``). Everything else is in
pyproject.toml. Where it cannot be built, calltape runs the same reader in Python (``calltape.media.relaying``)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "calltape.media._relay_reader",
            ["src/calltape/media/_relay_reader.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
            optional=True,
        )
    ]
)
