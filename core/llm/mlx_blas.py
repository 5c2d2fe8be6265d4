"""A fast BLAS for MLX on Linux: the system's OpenBLAS instead of the wheel's reference BLAS.

The ``mlx[cpu]`` wheel for Linux links its matrix products to a bundled copy of the netlib
*reference* BLAS, a plain triple loop: 2.7 GFLOP/s for a float32 matmul on this machine
(numpy: 40). MLX calls the standard ``cblas_sgemm``, so if an optimised BLAS that exports
the same symbols is loaded into the process with ``RTLD_GLOBAL`` *before* ``mlx.core`` is
imported, the dynamic linker binds MLX to it: 33-35 GFLOP/s on one thread here, the same
maths. Debian/Ubuntu ship one as ``libopenblas0`` (``libopenblas0-pthread``).

On macOS MLX uses Accelerate and the GPU; nothing is done there. Set
``PERSONA_MLX_SYSTEM_BLAS=0`` to keep the wheel's own BLAS.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger(__name__)

_loaded: bool | None = None  # the outcome of the first call (the choice is per process)


def use_system_blas(threads: int | None = None) -> bool:
    """Make MLX use the system's OpenBLAS; True when it will (or already does).

    Call it before anything imports ``mlx.core``: once MLX is loaded its BLAS is fixed for
    the life of the process, and this returns False. ``threads`` (default: one per core
    less one, as for torch; ``OPENBLAS_NUM_THREADS`` wins if set) keeps training polite.
    """
    global _loaded
    if _loaded is not None:
        return _loaded
    if sys.platform != "linux" or os.environ.get("PERSONA_MLX_SYSTEM_BLAS", "1") == "0":
        _loaded = False
        return _loaded
    if "mlx.core" in sys.modules:
        log.debug("mlx.core is already loaded; it keeps the BLAS it was loaded with.")
        _loaded = False
        return _loaded
    name = ctypes.util.find_library("openblas")
    if name is None:
        log.info("No system OpenBLAS found; MLX keeps its reference BLAS (slow on CPU). "
                 "Install it with `apt-get install libopenblas0-pthread`.")
        _loaded = False
        return _loaded
    try:
        lib = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:
        log.info("The system OpenBLAS %s cannot be loaded (%s); MLX keeps its own BLAS.",
                 name, exc)
        _loaded = False
        return _loaded
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        n = threads if threads is not None else max(1, min(8, (os.cpu_count() or 2) - 1))
        setter = getattr(lib, "openblas_set_num_threads", None)
        if setter is not None:
            setter(ctypes.c_int(n))
    log.debug("MLX will use the system BLAS %s", name)
    _loaded = True
    return _loaded
