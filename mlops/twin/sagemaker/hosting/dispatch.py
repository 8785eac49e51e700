"""The SageMaker scikit-learn serving contract: model_fn / input_fn / predict_fn / output_fn.

Why not `sagemaker_inference.Transformer`: it needs the Java model server's request
context (`context.request_processor`, `set_response_status`) and maps every error to 500,
whereas the scikit-learn container (sagemaker-scikit-learn-container `serving.py`, built
on the archived sagemaker-containers `_transformer.py`) answers 415 when input_fn meets an
unsupported content type and 406 when output_fn does, and 500 for anything else; a handler
that returns a response object (the container's `worker.Response`) answers with its status.
That dispatch is a dozen lines, so it is written here; the default (de)serialisers are the
installed `sagemaker_inference.decoder` / `encoder`, as the container's are.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JSON = "application/json"
CSV = "text/csv"
UTF8_TYPES = (JSON, CSV)  # the container decodes these bodies to str before input_fn


@dataclass(frozen=True)
class Outcome:
    status: int
    body: bytes
    content_type: str


class UserModuleError(Exception):
    """The user module breaks the contract (e.g. transform_fn together with input_fn)."""


def default_model_fn(model_dir: str) -> Any:
    # Same as the container: scikit-learn has no default loader.
    raise NotImplementedError("Please provide a model_fn implementation.")


def default_input_fn(input_data: Any, content_type: str) -> Any:
    import numpy as np
    from sagemaker_inference import decoder

    array = decoder.decode(input_data, content_type)
    # The scikit-learn container casts text payloads to float32 (serving.default_input_fn).
    return array.astype(np.float32) if content_type in UTF8_TYPES else array


def default_predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[Any, str]:
    from sagemaker_inference import encoder

    return encoder.encode(prediction, accept), accept


def _is_unsupported_format(exc: BaseException) -> bool:
    # sagemaker_inference and sagemaker-containers each define their own class of that name.
    return type(exc).__name__ == "UnsupportedFormatError"


def _toolkit_status(exc: BaseException) -> int | None:
    """Status carried by sagemaker_inference.errors.BaseInferenceToolkitError, if any."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) and 400 <= status <= 599 else None


def _error(status: int, exc: BaseException) -> Outcome:
    body = {
        "error": type(exc).__name__,
        "error-message": str(getattr(exc, "message", None) or exc),
        "stack-trace": traceback.format_exc(),
    }
    return Outcome(status, json.dumps(body).encode(), JSON)


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def _call(func: Callable[..., Any], *args: Any) -> Any:
    # Handlers may take an extra trailing `context` argument (sagemaker-inference style).
    params = len(inspect.signature(func).parameters)
    return func(*args, None) if params == len(args) + 1 else func(*args)


class InferenceHandler:
    """Loads the user module and the model once; `invoke` serves one request."""

    def __init__(self, model_dir: Path, code_dir: Path | None, program: str | None) -> None:
        self.model_dir = model_dir
        module = self._import_user_module(code_dir, program)
        get = getattr
        self.model_fn = get(module, "model_fn", default_model_fn)
        self.transform_fn = get(module, "transform_fn", None)
        user_fns = [get(module, n, None) for n in ("input_fn", "predict_fn", "output_fn")]
        if self.transform_fn and any(user_fns):
            raise UserModuleError(
                "Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn"
            )
        self.input_fn = user_fns[0] or default_input_fn
        self.predict_fn = user_fns[1] or default_predict_fn
        self.output_fn = user_fns[2] or default_output_fn
        self.model = _call(self.model_fn, str(model_dir))

    @staticmethod
    def _import_user_module(code_dir: Path | None, program: str | None) -> Any:
        if not program:
            return object()  # no user module: every function falls back to the defaults
        if code_dir is not None:
            sys.path.insert(0, str(code_dir))
        module_name = program[:-3] if program.endswith(".py") else program
        return importlib.import_module(module_name)

    def invoke(self, body: bytes, content_type: str, accept: str) -> Outcome:
        data: Any = body.decode("utf-8") if content_type in UTF8_TYPES else body
        if self.transform_fn is not None:
            try:
                result = _call(self.transform_fn, self.model, data, content_type, accept)
            except Exception as exc:  # user code: any error becomes an HTTP error
                return _error(_toolkit_status(exc) or 500, exc)
            return self._response(result, accept)
        try:
            decoded = _call(self.input_fn, data, content_type)
        except Exception as exc:
            status = 415 if _is_unsupported_format(exc) else _toolkit_status(exc) or 500
            return _error(status, exc)
        try:
            prediction = _call(self.predict_fn, decoded, self.model)
        except Exception as exc:
            return _error(_toolkit_status(exc) or 500, exc)
        try:
            result = _call(self.output_fn, prediction, accept)
        except Exception as exc:
            status = 406 if _is_unsupported_format(exc) else _toolkit_status(exc) or 500
            return _error(status, exc)
        return self._response(result, accept)

    @staticmethod
    def _response(result: Any, accept: str) -> Outcome:
        # output_fn may return the body, (body, content_type) as the toolkits allow, or a
        # response object with its own status: the container's worker.Response is a Flask
        # response, and the container's Flask worker returns whatever transform gives it.
        if _is_response(result):
            return Outcome(result.status_code, result.get_data(), result.mimetype or accept)
        if isinstance(result, tuple) and len(result) == 2:
            return Outcome(200, _to_bytes(result[0]), str(result[1]))
        return Outcome(200, _to_bytes(result), accept)


def _is_response(result: Any) -> bool:
    """A werkzeug (Flask) response: what sagemaker-containers' worker.Response is."""
    return isinstance(getattr(result, "status_code", None), int) and callable(
        getattr(result, "get_data", None)
    )
