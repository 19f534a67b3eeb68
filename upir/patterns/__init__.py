"""Architecture patterns: feature extraction, discovery by clustering, a library
of verified built-in patterns, calibrated matching and proof reuse."""

from upir.patterns.builtin import BUILTIN_IDS, BUILTINS, BuiltinPattern
from upir.patterns.extractor import (
    CLUSTERER_NAMES,
    Clustering,
    DiscoveryResult,
    Observation,
    PatternExtractor,
)
from upir.patterns.features import FEATURE_NAMES, FEATURES, extract_features, feature_map
from upir.patterns.library import Match, PatternLibrary, builtin_patterns
from upir.patterns.matching import Explanation, FeatureDiff, SimilarityIndex
from upir.patterns.pattern import BetaPosterior, ParamRange, Pattern, PropertyTemplate, Role

__all__ = [
    "BUILTINS",
    "BUILTIN_IDS",
    "CLUSTERER_NAMES",
    "FEATURES",
    "FEATURE_NAMES",
    "BetaPosterior",
    "BuiltinPattern",
    "Clustering",
    "DiscoveryResult",
    "Explanation",
    "FeatureDiff",
    "Match",
    "Observation",
    "ParamRange",
    "Pattern",
    "PatternExtractor",
    "PatternLibrary",
    "PropertyTemplate",
    "Role",
    "SimilarityIndex",
    "builtin_patterns",
    "extract_features",
    "feature_map",
]
