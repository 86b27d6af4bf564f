from .advantages import ADVANTAGES, compute_advantages  # noqa: F401
from .losses import AGGREGATIONS, POLICY_LOSSES, kl_estimate  # noqa: F401
from .competence import Curriculum, overlong_penalty  # noqa: F401
