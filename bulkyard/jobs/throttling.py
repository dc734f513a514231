"""One budget for creating jobs, however a job comes to exist.

The API's submit and retry endpoints and the web page's upload form all count
against the ``job_create`` rate (``API_THROTTLE_JOB_CREATE``) in the same
counters per user, so a user refused by one is refused by the others: a job is
as much work for the workers whichever door it came through. Staff's admin
actions are not counted: they act on many users' jobs at once, on purpose.
"""

from django.contrib.auth.models import User
from rest_framework.request import Request
from rest_framework.views import APIView

from bulkyard.core.throttling import UserRateThrottle


class JobCreateThrottle(UserRateThrottle):
    """A tighter budget for creating jobs than for reading them."""

    scope = "job_create"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)

    def allow_user(self, user: User) -> bool:
        """The same check for a caller without an API request (the web form)."""
        if self.rate is None:
            return True
        return self.allow_key(self.cache_format % {"scope": self.scope, "ident": user.pk})
