"""The tags and filters an email template may use: Django's built-in ones,
within the bounds of ``template_limits`` (``for`` counts its iterations, every
filter its work and the size of its result), without the tags that reach
outside the message (``debug`` prints the server's context and modules,
``load`` pulls in libraries, ``url`` and ``csrf_token`` belong to pages,
``include`` and ``extends`` read files) and without ``lorem``, whose only use
in a bulk email would be to write as much text as it is asked for."""

from django.template import Library, defaultfilters, defaulttags

from bulkyard.mail.template_filters import BoundedFilter
from bulkyard.mail.template_limits import bounded_for

EXCLUDED_TAGS = frozenset({"debug", "load", "url", "csrf_token", "lorem"})

register = Library()
register.tags = {
    name: compile_function
    for name, compile_function in defaulttags.register.tags.items()
    if name not in EXCLUDED_TAGS
}
register.tags["for"] = bounded_for
register.filters = {
    name: BoundedFilter(name, function)
    for name, function in defaultfilters.register.filters.items()
}
