"""API paths without their trailing slash answered as if they had it.

Django's ``APPEND_SLASH`` redirects ``/api/v1/jobs`` to ``/api/v1/jobs/`` with a
301, and HTTP clients follow a 301 to a POST with a GET: a client that
submitted a job then gets ``200`` and the job list, a silent wrong answer. For
the API the path is corrected in place instead, for every method; the pages
keep Django's redirect (browsers only GET them by typed URLs).
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

API_PREFIX = "/api/"


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


class ApiTrailingSlashMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if (
            path.startswith(API_PREFIX)
            and not path.endswith("/")
            and not _resolves(path)
            and _resolves(f"{path}/")
        ):
            request.path_info = f"{path}/"
            request.path = f"{request.path}/"
        return self.get_response(request)
