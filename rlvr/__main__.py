"""``python -m rlvr`` and ``torchrun --nproc_per_node N -m rlvr grpo ...``: the command line."""
import sys

from .cli import main

sys.exit(main())
