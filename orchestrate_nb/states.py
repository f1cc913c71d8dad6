"""Public home of the state types (``from orchestrate_nb.states import Completed``)."""

from orchestrate_nb.core.states import *  # noqa: F401,F403
from orchestrate_nb.core.states import __all__  # noqa: F401
