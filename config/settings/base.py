"""All settings, split by concern; each module reads its values through ``config.env``."""

from config.settings.api import *  # noqa: F403
from config.settings.auth import *  # noqa: F403
from config.settings.cache import *  # noqa: F403
from config.settings.callbacks import *  # noqa: F403
from config.settings.channels import *  # noqa: F403
from config.settings.csp import *  # noqa: F403
from config.settings.database import *  # noqa: F403
from config.settings.django import *  # noqa: F403
from config.settings.jobs import *  # noqa: F403
from config.settings.logging import *  # noqa: F403
from config.settings.mail import *  # noqa: F403
from config.settings.metrics import *  # noqa: F403
from config.settings.outbound import *  # noqa: F403
from config.settings.quotas import *  # noqa: F403
from config.settings.retention import *  # noqa: F403
from config.settings.security import *  # noqa: F403
from config.settings.storage import *  # noqa: F403
from config.settings.tasks import *  # noqa: F403
