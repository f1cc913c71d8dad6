"""Cache policies, with Prefect 3's names: ``from orchestrate_nb.cache_policies import INPUTS``.

They live beside the fingerprints they are made of, in ``orchestrate_nb.results.cache_policies``;
this is the public path (Prefect's ``prefect.cache_policies``), with the same names.
"""

from orchestrate_nb.results.cache_policies import *  # noqa: F403 - the names of its __all__
from orchestrate_nb.results.cache_policies import __all__ as __all__
