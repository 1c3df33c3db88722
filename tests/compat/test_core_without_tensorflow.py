"""``import boxloc`` and the NumPy core work where TensorFlow, Keras (and nilearn, JAX,
PyTorch) cannot be imported; the Keras and tf.data parts say what to install.

Runs in a subprocess whose import hook makes those packages unimportable, as in an
environment without them.
"""

import os
import subprocess
import sys
import textwrap

FORBIDDEN = ("tensorflow", "keras", "tf_keras", "jax", "jaxlib", "torch", "nilearn", "sklearn")

SCRIPT = textwrap.dedent("""
    import sys, importlib.abc
    FORBIDDEN = {forbidden!r}

    class Forbid(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in FORBIDDEN:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Forbid())
    import matplotlib
    matplotlib.use("Agg")
    import numpy as np
    import boxloc
    from boxloc import BoundingBox, nms
    from boxloc.coverage import anchor_coverage
    from boxloc.examples import lesion_masks
    from boxloc.plotting import plot_targets
    from boxloc.datasets import prepare, make_dataset
    from boxloc.configs import run_mode
    from boxloc.selfcheck import self_check            # the hand-in check needs no framework
    assert run_mode({{}}) == "full" and self_check({{}}) == []

    bb = BoundingBox((64, 64), c=[2, 3], anchor_shapes=[12, 24], iou_upper=0.5, iou_lower=0.2)
    masks = lesion_masks(4, (64, 64), (1, 2), (4.0, 10.0), seed=0)
    box = bb.convert_msk_to_box(masks[:, None, ..., None])
    anchors, classes = bb.convert_box_to_anc(box)
    assert len(anchors) == 4 and all(len(a) for a in anchors)
    keep = nms(np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], float),
               np.array([0.9, 0.8, 0.7]), 0.5)
    assert list(keep) == [0, 2], keep
    assert "anchor" in str(anchor_coverage(bb, masks)).lower()
    plot_targets(bb, masks[0].astype(float), masks[0])

    gen_train, gen_valid, client = prepare("phantom/brats-mip", num_volumes=3, seed=0,
                                           sampling_seed=0)
    xs, ys = next(gen_train)
    assert xs["dat"].shape[-1] == 4 and ys["tumor"].shape[:2] == xs["dat"].shape[:2]

    for module in ("boxloc.models", "boxloc.losses", "boxloc.metrics", "boxloc.training",
                   "boxloc.saving"):
        try:
            __import__(module)
        except ModuleNotFoundError as error:
            assert "boxloc[tensorflow]" in str(error) and "NumPy core" in str(error), error
        else:
            raise AssertionError(f"{{module}} imported without Keras")
    try:
        make_dataset(client, bb)
    except ModuleNotFoundError as error:
        assert "tf.data" in str(error) and "bb.generator" in str(error), error
    else:
        raise AssertionError("make_dataset ran without TensorFlow")
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
    assert not leaked, leaked
    print("core without TensorFlow: ok")
""")


def test_numpy_core_works_without_tensorflow_keras_or_nilearn(tmp_path):
    script = SCRIPT.format(forbidden=FORBIDDEN)
    env = {**os.environ, "BOXLOC_DATA": str(tmp_path), "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "core without TensorFlow: ok" in result.stdout
