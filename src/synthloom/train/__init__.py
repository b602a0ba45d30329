"""Teacher -> student: train a small model on generated data and score it honestly.

Nothing heavy is imported here; torch, transformers, peft and scikit-learn load inside the functions
that need them (`pip install 'synthloom[train]'`).
"""
from __future__ import annotations

from .evaluate import evaluate, report_markdown, write_report
from .metrics import choose_metric, field_scores, label_scores, normalize_value, text_scores
from .students import STUDENTS, load_student, train_classifier
from .summary import TrainSummary


def train_lora(*args, **kwargs):
    """LoRA adapter on a causal LM (see `synthloom.train.lora.train_lora`)."""
    from .lora import train_lora as _train

    return _train(*args, **kwargs)


__all__ = ["STUDENTS", "TrainSummary", "choose_metric", "evaluate", "field_scores", "label_scores", "load_student",
           "normalize_value", "report_markdown", "text_scores", "train_classifier", "train_lora", "write_report"]
