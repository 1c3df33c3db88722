"""Hidden cases of assignment 2 (network): instructor only, never released or sent to students."""

from classroom.grader.spec import Exercise, call


def random_shape(rng, low=64, high=320):
    return tuple(int(n) for n in rng.integers(low, high, 2))


def feature_map_size_cases(rng):
    drawn = [[random_shape(rng, 50, 300), int(rng.integers(0, 6))] for _ in range(4)]
    return [[(240, 240), 3], [(240, 240), 5], [(101, 77), 3]] + drawn


def library_feature_map_size(shape, steps):
    from boxloc.models import pyramid_grid
    return tuple(pyramid_grid(shape, steps))


# Runs in the student's kernel: the arm's feature maps (h, w, channels) and parameter count.
ARM_SUMMARY = '''
def record_case(arm, shape, filters):
    import keras
    data = keras.Input((None, *shape, 4))
    features = arm(data, list(filters))
    model = keras.Model(data, features)
    return [tuple(int(n) for n in f.shape[2:]) for f in features], int(model.count_params())
'''


def contracting_arm_cases(rng):
    drawn = [int(rng.choice([2, 4, 6])) * 4 for _ in range(3)]
    return [[(240, 240), (8, 16, 24, 32, 48)], [(96, 160), (4, 8, 12)], [(64, 48), tuple(drawn)]]


def library_contracting_arm(shape, filters):
    import keras
    from boxloc.models import contracting_arm
    data = keras.Input((None, *shape, 4))
    features = contracting_arm(data, list(filters))
    model = keras.Model(data, features)
    return [tuple(int(n) for n in f.shape[2:]) for f in features], int(model.count_params())


# Runs in the student's kernel: one step of the top-down path on a coarser map (h, w, width)
# and a finer map (2h, 2w, finer_channels), Z = 2 slices: the merged map's (h, w, channels),
# the block's parameter count and its output on fixed inputs with every weight set to fixed
# values (so a layers, keras.ops or tf block is compared number by number with the library's).
# Z = 2 (not 1) so that a block upsampling Z as well cannot pass by broadcasting.
TOP_DOWN_SUMMARY = '''
def record_case(block, coarser_size, finer_channels, width):
    import numpy as np
    import keras
    height, width_px = coarser_size
    coarser = keras.Input((None, height, width_px, width))
    finer = keras.Input((None, 2 * height, 2 * width_px, finer_channels))
    merged = block(coarser, finer, width)
    model = keras.Model([coarser, finer], merged)
    for weight in model.weights:
        shape = tuple(weight.shape)
        values = np.sin(np.arange(1, int(np.prod(shape)) + 1)).reshape(shape)
        weight.assign(values.astype("float32"))
    rng = np.random.default_rng(0)
    data = [rng.normal(size=(1, 2, *t.shape[2:])).astype("float32") for t in (coarser, finer)]
    output = keras.ops.convert_to_numpy(model(data))
    return tuple(merged.shape[2:]), int(model.count_params()), np.asarray(output, dtype="float64")
'''


def top_down_cases(rng):
    visible = [[(2, 3), 32, 64]]                        # the tutorial's channels, small maps
    fixed = [[(3, 3), 8, 8], [(1, 2), 1, 4]]            # 8 = 8: projecting the wrong map fits
    drawn = [[(int(rng.integers(1, 5)), int(rng.integers(1, 5))), int(rng.integers(1, 17)),
              int(rng.integers(2, 17))] for _ in range(3)]
    return visible + fixed + drawn


def library_top_down(coarser_size, finer_channels, width):
    from boxloc.models import top_down_merge
    helper = {}
    exec(TOP_DOWN_SUMMARY, helper)
    return helper["record_case"](top_down_merge, coarser_size, finer_channels, width)


def pyramid_serves_cases(rng):
    visible = [[(240, 240), [3, 4], 4], [(240, 240), [3, 4], 3], [(240, 240), [3, 4, 5], 5]]
    fixed = [[(256, 256), [3, 4, 5], 5], [(96, 160), [2, 3], 3], [(240, 240), [3], 2]]
    drawn = []
    for _ in range(4):
        levels = sorted(int(n) for n in rng.choice([2, 3, 4, 5, 6], rng.integers(1, 4), replace=False))
        drawn.append([random_shape(rng), levels, int(rng.integers(2, 8))])
    return visible + fixed + drawn


def library_pyramid_serves(shape, levels, steps):
    from boxloc.models import check_levels
    grid = [[int(shape[0] / 2 ** level), int(shape[1] / 2 ** level)] for level in levels]
    try:
        check_levels({"c": levels, "image_shape": list(shape), "anchor_gsizes": grid}, steps)
        return True
    except ValueError:
        return False


def head_outputs_cases(rng):
    drawn_levels = sorted(int(n) for n in rng.choice([2, 3, 4], int(rng.integers(1, 3)), replace=False))
    return [[[3, 4], 9, 1], [[2, 3], 6, 3], [drawn_levels, int(rng.choice([3, 6, 9])), int(rng.integers(1, 4))]]


def library_head_outputs(levels, num_anchors, classes):
    from boxloc import BoundingBox
    from boxloc.models import build_retinanet
    ratios = {3: [1], 6: [0.5, 2], 9: [0.5, 1, 2]}[num_anchors]
    bb = BoundingBox((96, 96), classes=classes, c=levels, anchor_shapes=[8] * len(levels),
                     anchor_scales=[0, 1, 2], anchor_ratios=ratios)
    model = build_retinanet(bb, channels=1, filters=(4, 8, 8, 8, 8), width=8)
    return {name: int(o.shape[-1]) for name, o in zip(model.output_names, model.outputs)}


def conv3d_params_cases(rng):
    drawn = [[tuple(int(k) for k in rng.choice([1, 3, 5], 3)), int(rng.integers(1, 65)),
              int(rng.integers(1, 65))] for _ in range(3)]
    return [[(1, 3, 3), 4, 8], [(1, 1, 1), 48, 64], [(3, 3, 3), 2, 5]] + drawn


def library_conv3d_params(kernel, c_in, c_out):
    from keras import layers
    layer = layers.Conv3D(c_out, tuple(kernel))
    layer.build((None, 8, 8, 8, c_in))
    return layer.count_params()


EXERCISES = [
    Exercise("test_feature_map_size", call("feature_map_size"), feature_map_size_cases,
             expected=library_feature_map_size, visible=2,
             solved_by=("boxloc.models.pyramid_grid", "boxloc.anchors.pyramid_grid",
                        "boxloc.plotting.pyramid_grid")),
    Exercise("test_contracting_arm", call("my_contracting_arm", helper=ARM_SUMMARY),
             contracting_arm_cases, expected=library_contracting_arm, visible=1,
             fields=("feature maps (h, w, channels)", "parameters"),
             solved_by=("boxloc.models.contracting_arm",)),
    Exercise("test_top_down", call("my_top_down", helper=TOP_DOWN_SUMMARY), top_down_cases,
             expected=library_top_down, tolerance=1e-4, visible=1,
             fields=("merged map (h, w, channels)", "parameters", "output on fixed weights and inputs"),
             solved_by=("boxloc.models.top_down_merge",)),
    Exercise("test_pyramid_serves", call("pyramid_serves"), pyramid_serves_cases,
             expected=library_pyramid_serves, visible=3, solved_by=("boxloc.models.check_levels",)),
    Exercise("test_head_outputs", call("head_outputs"), head_outputs_cases,
             expected=library_head_outputs, visible=1,
             solved_by=("boxloc.models.build_retinanet", "boxloc.saving.build_retinanet")),
    Exercise("test_conv3d_params", call("conv3d_params"), conv3d_params_cases,
             expected=library_conv3d_params, visible=1,
             solved_by=("keras.layers.Conv3D", "keras.layers.Convolution3D")),
]
