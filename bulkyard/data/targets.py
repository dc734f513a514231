"""The import targets this app declares."""

from bulkyard.data.models import Contact
from bulkyard.targets.access import owned_by
from bulkyard.targets.registry import register_target

register_target(
    name="contacts",
    model=Contact,
    key="email",
    fields=("email", "name", "age", "city", "amount"),
    # Each user imports into, exports and emails their own contacts; the
    # permissions are the model's (add + change to import, view to read).
    scope=owned_by("owner"),
)
