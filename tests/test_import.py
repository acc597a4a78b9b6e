import subprocess
import sys


def test_import_does_not_import_prefect():
    code = "import sys, prefect_widgets; print('prefect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_importtime_shows_no_prefect_module():
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import prefect_widgets"],
                         capture_output=True, text=True, check=True)
    modules = [line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()]
    assert "prefect_widgets" in modules
    assert not [m for m in modules if m == "prefect" or m.startswith("prefect.")]
