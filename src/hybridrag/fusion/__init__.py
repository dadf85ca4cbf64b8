"""Score fusion of ranked lists: reciprocal rank fusion and normalised weighted sums."""

from hybridrag.fusion.normalization import minmax, zscore
from hybridrag.fusion.rrf import reciprocal_rank_fusion
from hybridrag.fusion.weighted import weighted_sum

__all__ = ["minmax", "reciprocal_rank_fusion", "weighted_sum", "zscore"]
