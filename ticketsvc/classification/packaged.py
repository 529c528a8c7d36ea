"""Reading the engine's data files: the one an operator names, else the package's own."""
from __future__ import annotations

import os
from importlib import resources


def read_data_file(path: str | os.PathLike | None, packaged: str) -> tuple[str, bytes]:
    """``(source, bytes)`` of ``path``, or of this package's ``packaged`` file when ``path`` is
    empty; ``source`` names it in error messages. Raises OSError (FileNotFoundError when
    the packaged file is missing), with the source set on ``exc.filename``."""
    if path:
        source = os.fspath(path)
        with open(source, "rb") as handle:
            return source, handle.read()
    source = f"{__package__.replace('.', '/')}/{packaged}"
    try:
        return source, resources.files(__package__).joinpath(packaged).read_bytes()
    except OSError as exc:
        exc.filename = source
        raise
