"""Networks of the joint objective: regressor R, feature extractor F, classifier C."""

from har.models.classifier import ActivityClassifier
from har.models.feature_extractor import FeatureExtractor
from har.models.regressor import Regressor

__all__ = ["ActivityClassifier", "FeatureExtractor", "Regressor"]
