from bulkyard.data.models import Contact
from bulkyard.data.registry import register_target

register_target(
    name="contacts",
    model=Contact,
    key="email",
    fields=("email", "name", "age", "city", "amount"),
)
