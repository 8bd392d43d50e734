"""Every error, handled once: JSON `{"error": {status, message}}` under /api/, a styled Chinese page elsewhere."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from core.errors import IndexBusyError, IndexUnavailableError, NotFoundError

from .contract import problem

log = logging.getLogger("fazhi")
RETRY_AFTER = 5  # seconds a client waits before asking an unavailable index again
PAGE_MESSAGES = {  # what a reader of the page is told, in Chinese (the API keeps the precise English message)
    400: "请求参数有误", 401: "需要管理员令牌", 404: "找不到该页面或记录", 405: "不支持该请求方法",
    409: "另一个索引任务正在进行，请稍后再试", 413: "提交的内容过大", 500: "服务器内部错误", 503: "索引暂时不可用，请稍后再试",
}
PAGE_DETAILS = {  # what a page says when the error carries only werkzeug's English default text
    404: "这个网址没有对应的页面。请检查网址，或从检索首页重新开始。", 405: "该网址不接受这种请求。",
    413: "提交的内容超过了大小上限，请缩短所选文字。",
}


def wants_json() -> bool:
    """True for API requests: their errors are JSON."""
    return request.path.startswith("/api/")


def error_response(status: int, message: str, headers: dict | None = None):
    """The JSON error under /api/, the styled page elsewhere."""
    headers = dict(headers or {})
    if wants_json():
        return jsonify({"error": {"status": status, "message": message}}), status, headers
    title = PAGE_MESSAGES.get(status, "出错了")
    return render_template("error.html", status=status, title=title, message=message), status, headers


def validation_error(exc: ValidationError):
    """flask-openapi3's hook: a request that fails its model is a 400 naming the parameter."""
    return make_response(error_response(400, problem(exc)))


def register_errors(app: Flask) -> None:
    """Install the handlers on the app (one place for every layer's errors)."""

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        headers = {}
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        message = exc.description or exc.name
        if exc.code == 413:
            message = "the request body is too large"
        generic = message in (type(exc).description, "the request body is too large")  # werkzeug's English text
        if not wants_json() and exc.code in PAGE_DETAILS and generic:
            message = PAGE_DETAILS[exc.code]
        return error_response(exc.code or 500, message, headers)

    @app.errorhandler(NotFoundError)
    def _not_found(exc: NotFoundError):
        return error_response(404, str(exc.args[0]))

    @app.errorhandler(IndexUnavailableError)
    def _unavailable(exc: IndexUnavailableError):
        return error_response(503, str(exc), {"Retry-After": str(exc.retry_after or RETRY_AFTER)})

    @app.errorhandler(IndexBusyError)
    def _busy(exc: IndexBusyError):
        return error_response(409, str(exc), {"Retry-After": str(RETRY_AFTER)})

    @app.errorhandler(ValueError)
    def _bad_value(exc: ValueError):
        return error_response(400, str(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        if is_backend_failure(exc):  # a storage server that went away mid-request is unavailable, not broken
            return error_response(503, f"the index backend failed: {type(exc).__name__}",
                                  {"Retry-After": str(RETRY_AFTER)})
        return error_response(500, "internal error; it has been logged")


def is_backend_failure(exc: BaseException) -> bool:
    """True for a connection or RPC failure of the storage backend (pymilvus, gRPC, sockets)."""
    module = type(exc).__module__ or ""
    return isinstance(exc, (ConnectionError, TimeoutError)) or module.startswith(("pymilvus", "grpc"))
