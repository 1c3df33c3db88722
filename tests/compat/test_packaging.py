"""Packaging hygiene: a clean sdist and wheel, SPDX license metadata, the bundled templates and
reference detector, TensorFlow and Keras as extras (never forced next to another TensorFlow),
pip check."""

import email
import subprocess
import sys
import tarfile
import zipfile

from compat_helpers import built  # noqa: F401  (fixture)

TEMPLATES = ["mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
             "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
             "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz"]
CACHES = ("__pycache__", ".pyc", ".pytest_cache", ".hypothesis", "tests/", ".ipynb_checkpoints")


def wheel_and_sdist(folder):
    wheels, sdists = list(folder.glob("*.whl")), list(folder.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(folder.iterdir())
    return wheels[0], sdists[0]


def wheel_metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name)), archive.namelist()


def test_build_prints_no_warning(built):
    """setuptools warns of nothing (it did of the TOML-table license and its classifier);
    distutils' note that byte-compiling is off (PYTHONDONTWRITEBYTECODE) is not about us."""
    _, output = built
    flagged = [line for line in output.splitlines()
               if ("warning" in line.lower() or "deprecat" in line.lower())
               and "byte-compiling is disabled" not in line]
    assert not flagged, "\n".join(flagged)


def test_license_metadata_is_an_spdx_expression(built):
    metadata, names = wheel_metadata(wheel_and_sdist(built[0])[0])
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License"] is None
    assert not [c for c in metadata.get_all("Classifier") or [] if c.startswith("License ::")]
    license_files = metadata.get_all("License-File") or []
    assert "LICENSE" in license_files
    assert any(name.endswith("licenses/LICENSE") for name in names)


def test_wheel_and_sdist_hold_the_package_data_and_no_tests_or_caches(built):
    wheel, sdist = wheel_and_sdist(built[0])
    _, names = wheel_metadata(wheel)
    with tarfile.open(sdist) as archive:
        sdist_names = archive.getnames()
    for listing in (names, sdist_names):
        for template in TEMPLATES:
            assert any(n.endswith(f"boxloc/datasets/data/{template}") for n in listing), template
        assert not [n for n in listing if any(c in n for c in CACHES)]
        assert any(n.endswith("boxloc/models.py") for n in listing)
        for part in ("retinanet-cpu.keras", "retinanet-cpu.json"):     # the reference detector
            assert any(n.endswith(f"boxloc/weights/{part}") for n in listing), part


def test_tensorflow_and_keras_are_extras_only(built):
    metadata, _ = wheel_metadata(wheel_and_sdist(built[0])[0])
    requires = metadata.get_all("Requires-Dist")
    core = [r for r in requires if "extra ==" not in r]
    for framework in ("tensorflow", "keras", "jax", "torch", "nilearn"):
        assert not [r for r in core if r.lower().startswith(framework)], core
    assert {"tensorflow", "jax", "torch"} <= set(metadata.get_all("Provides-Extra"))
    assert [r for r in requires if r.startswith("tensorflow") and 'extra == "tensorflow"' in r]


def test_pip_check_is_clean_here():
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
