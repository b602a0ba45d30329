"""The engine: the run loop, the run store, the call cache."""
from .api import arun_recipe, resolve_output, run_recipe
from .runner import Progress, RunSummary
from .store import RunStore

__all__ = ["Progress", "RunStore", "RunSummary", "arun_recipe", "resolve_output", "run_recipe"]
