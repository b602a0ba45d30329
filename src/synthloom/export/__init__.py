"""Exporters: files, chat formats, splits, dataset card, report."""
from ..runs.writers import write_records

__all__ = ["write_records"]
