"""Cache policies, with Prefect 3's names: ``from orchestrate_nb.cache_policies import INPUTS``.

They live beside the fingerprints they are made of, in ``orchestrate_nb.results.cache_policies``;
this is the public path (Prefect's ``prefect.cache_policies``).
"""

from orchestrate_nb.results.cache_policies import (
    DEFAULT,
    FLOW_PARAMETERS,
    INPUTS,
    NO_CACHE,
    NONE,
    RUN_ID,
    TASK_SOURCE,
    CacheKeyFnPolicy,
    CachePolicy,
    CompoundCachePolicy,
    FlowParameters,
    Inputs,
    RunId,
    TaskSource,
)

__all__ = [
    "CachePolicy", "CacheKeyFnPolicy", "CompoundCachePolicy", "Inputs", "TaskSource",
    "FlowParameters", "RunId", "INPUTS", "TASK_SOURCE", "NONE", "NO_CACHE", "DEFAULT",
    "RUN_ID", "FLOW_PARAMETERS",
]
