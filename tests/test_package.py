"""The package as a whole: importing it is cheap and silent."""

import subprocess
import sys

import pytest

LIGHT = ["cflearn", "cflearn.data", "cflearn.metrics", "cflearn.baselines", "cflearn.history", "cflearn.device", "cflearn.check"]


@pytest.mark.parametrize("module", LIGHT)
def test_light_modules_import_no_framework_and_print_nothing(module):
    code = (
        f"import sys, {module}; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'keras', 'tensorflow'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", f"importing {module} pulled in {done.stdout.strip()}"
    assert done.stderr == ""
