"""Checks the subcommands run on their input and output paths before any work starts, and the
one way they write their output files (atomically, at the end).

Input files are read once here so that a file that is not UTF-8, a damaged ``.npz`` or a
weights file holding NaN is one line naming the file, not a traceback or a silent NaN result.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["check_output_file", "check_text_file", "read_weights_file", "write_outputs"]


def check_text_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` if it is a readable UTF-8 text file.

    Raises
    ------
    OSError
        If it cannot be read (the CLI reports it as one line).
    ValueError
        If it is not UTF-8; the message names ``what`` and the file.
    """
    from ..sweep._spec import read_text_file

    read_text_file(path, what)
    return Path(path)


def check_output_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` if a file can be written there: its folder exists and is writable, and it is not
    a folder itself. Nothing is created.

    Raises
    ------
    ValueError
        Naming ``what`` and the path.
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{what} must be a file path, not the folder {str(p)!r}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"{what} must be in an existing folder, not {str(p)!r} ({str(parent)!r} does not exist)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{what} must be in a writable folder, not {str(p)!r}")
    return p


def read_weights_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` or ``.safetensors`` weights file, every one checked finite.

    Raises
    ------
    ValueError
        If the file is missing, of another kind, damaged (truncated, empty, bit-flipped) or holds
        a NaN or infinite value; the message names the file (and the array).
    """
    p = Path(path)
    if p.suffix not in (".npz", ".safetensors"):
        raise ValueError(f"--weights must be a .npz or .safetensors file, not {str(p)!r}")
    if not p.is_file():
        raise ValueError(f"--weights must be an existing file, not {str(p)!r}")
    try:
        if p.suffix == ".npz":
            with open(p, "rb") as f, np.load(f, allow_pickle=False) as z:  # our handle: closed on error too
                arrays = {k: z[k] for k in z.files}
        else:
            from safetensors.numpy import load_file

            arrays = load_file(str(p))
    except Exception as exc:  # noqa: BLE001 - numpy/zipfile/safetensors raise many kinds for a damaged file
        kind = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)
        if not isinstance(exc, kind) and type(exc).__name__ != "SafetensorError":
            raise
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"--weights must be a valid {p.suffix} file, not {str(p)!r} (damaged or truncated: "
                         f"{reason})") from None
    if not arrays:
        raise ValueError(f"--weights must hold at least one array, not the empty file {str(p)!r}")
    for name, a in arrays.items():
        if a.dtype.kind in "fc":
            bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
            if bad:
                raise ValueError(f"--weights array {name!r} must hold finite values, not {bad} NaN or infinite "
                                 f"of {a.size} ({str(p)!r})")
    return arrays


def write_outputs(files: dict[Path, bytes | str]) -> None:
    """Write every output file atomically (temporary file in the same folder, then rename), after
    all the work is done; a failure leaves no temporary file behind."""
    from hw.flow import atomic_write_bytes

    for path, data in files.items():
        atomic_write_bytes(path, data.encode("utf-8") if isinstance(data, str) else data)
