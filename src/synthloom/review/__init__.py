"""Spot-checks: a stratified sample for a human to mark, and the precision it implies."""
from .sample import stratified_sample, write_sample
from .verdicts import ReviewResult, read_verdicts, summarize, wilson_interval

__all__ = ["ReviewResult", "read_verdicts", "stratified_sample", "summarize", "wilson_interval", "write_sample"]
