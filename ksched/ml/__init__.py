"""Learned scheduling: decision logs from replays, scikit-learn training, models as plugins.

``DecisionRecorder`` logs every scheduling decision of a replay (candidate
nodes with features and per-plugin scores, the choice, later outcomes);
``train_scorer`` fits a model that imitates a teacher profile or predicts
an outcome; the ``MLScore`` plugin deploys it; ``train_duration`` and the
``ShortestPredictedJobFirst`` QueueSort learn a queue order. Models are
saved with their feature schema and library versions (``SavedModel``) and
refused by ``load_model`` when either differs. ``ksched.ml.evaluate`` holds
the held-out comparisons behind ``ksched evaluate``.
"""

from ksched.ml.decisions import DecisionLog, DecisionRecorder, read_logs
from ksched.ml.duration import DURATION_FEATURES, duration_features, pod_duration_features
from ksched.ml.features import FEATURE_NAMES, FeatureExtractor, feature_schema_hash
from ksched.ml.mlscore import MLScore, MLScoreArgs
from ksched.ml.model import ModelMismatchError, SavedModel, load_model
from ksched.ml.sjf import ShortestPredictedJobFirst, ShortestPredictedJobFirstArgs
from ksched.ml.train import train_duration, train_scorer

__all__ = [
    "DURATION_FEATURES",
    "FEATURE_NAMES",
    "DecisionLog",
    "DecisionRecorder",
    "FeatureExtractor",
    "MLScore",
    "MLScoreArgs",
    "ModelMismatchError",
    "SavedModel",
    "ShortestPredictedJobFirst",
    "ShortestPredictedJobFirstArgs",
    "duration_features",
    "feature_schema_hash",
    "load_model",
    "pod_duration_features",
    "read_logs",
    "train_duration",
    "train_scorer",
]
