"""The template tags an email template may use: Django's built-in tags without
the ones that reach outside the message (``debug`` prints the server's context
and modules, ``load`` pulls in libraries, ``url`` and ``csrf_token`` belong to
pages, ``include`` and ``extends`` read files)."""

from django.template import Library, defaulttags

EXCLUDED_TAGS = frozenset({"debug", "load", "url", "csrf_token"})

register = Library()
register.tags = {
    name: compile_function
    for name, compile_function in defaulttags.register.tags.items()
    if name not in EXCLUDED_TAGS
}
