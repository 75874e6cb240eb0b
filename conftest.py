"""pytest set-up shared by the unit tests and the notebook tests (nbval).

Tests and notebooks run on the offline shapes world unless a caller chooses
otherwise; kernels started by nbval inherit this environment.
"""

import os

os.environ.setdefault("CAPTION_DATASET", "shapes")
