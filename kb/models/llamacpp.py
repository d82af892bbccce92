"""Loading llama.cpp models safely (shared by the embedded backend and the test server).

``llama_cpp`` is imported only inside these functions: it is heavy and optional.

Extra buffer types (llama.cpp's runtime weight repacking, including its Intel AMX kernels) are
turned off.  On machines whose CPU advertises AMX but whose (virtualised) kernel does not let a
process use the tile registers, llama.cpp's AMX matmul crashes the whole process with SIGSEGV
on the first decode.  The plain CPU kernels are always safe, and for the small fallback model
the speed difference does not matter.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

_LOAD_LOCK = threading.Lock()


def llama_threads(threads: int) -> int:
    """``settings.llm.threads``: 0 means every core."""
    return threads if threads > 0 else (os.cpu_count() or 1)


def load_llama(path: Path, *, n_ctx: int, threads: int = 0, embedding: bool = False,
               seed: int = 0) -> Any:
    """A ``llama_cpp.Llama`` for ``path`` without extra buffer types (see module doc)."""
    import llama_cpp
    import llama_cpp.llama_cpp as capi

    kwargs: dict[str, Any] = {}
    if embedding:
        kwargs.update(embedding=True, pooling_type=capi.LLAMA_POOLING_TYPE_MEAN)
    with _LOAD_LOCK:
        original = capi.llama_model_default_params

        def _safe_params() -> Any:
            params = original()
            if hasattr(params, "use_extra_bufts"):
                params.use_extra_bufts = False
            return params

        capi.llama_model_default_params = _safe_params
        try:
            return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx,
                                   n_threads=llama_threads(threads), n_batch=512, seed=seed,
                                   verbose=False, **kwargs)
        finally:
            capi.llama_model_default_params = original
