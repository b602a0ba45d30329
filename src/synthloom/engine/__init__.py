"""The engine: the run loop, the call cache, the local and Ray executors (the run store is in `runs/`)."""
from ..runs import RunStore, resolve_output
from .api import arun_recipe, run_recipe
from .runner import Progress, RunSummary

__all__ = ["Progress", "RunStore", "RunSummary", "arun_recipe", "resolve_output", "run_recipe"]
