"""Ray job entrypoints and configs. This package is the runner: the only code that imports Ray."""

import os

from jobs.own_packages import check_own_packages

# before any pass imports pipeline/tokenization: a shadowing distribution fails here, in one line
check_own_packages(os.path.dirname(os.path.abspath(__file__)))
