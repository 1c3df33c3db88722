"""The seed's data client (``jarvis.train.client.Client``) over a prepared store.

Rows are slices. A training batch is ``xs['dat']`` float32 (B, 1, 240, 240, 4) (FLAIR, T1,
T1ce, T2) and ``ys['tumor']`` uint8 (B, 1, 240, 240, 1) (0 bg, 1 necrosis, 2 oedema, 3
enhancing; ``{'clip': {'max': 1}}`` binarises it). Splits are by volume: 'train', 'valid',
'test'.

Configs (the seed's YAML as a dict, see ``DEFAULT_CONFIGS``) are merged key by key; unlike the
seed, a key that is not in the defaults raises ``ValueError`` instead of being ignored.
"""

import copy
from pathlib import Path

import numpy as np

from .store import read_meta, read_slices

__all__ = ["DEFAULT_CONFIGS", "NORM_KEYS", "COHORTS", "merge_configs", "Client"]

COHORTS = ("lbl-mip-00", "lbl-mip-01", "lbl-mip-02", "lbl-mip-03", "tumor")
NORM_KEYS = ("mapping", "clip", "shift", "scale")
DEFAULT_CONFIGS = {
    "batch": {"size": 16, "sampling": None},
    "specs": {
        "xs": {"dat": {"dtype": "float32", "loads": "dat", "norms": {},
                       "shape": [1, 240, 240, 4], "input": True}},
        "ys": {"tumor": {"dtype": "uint8", "loads": "lbl", "norms": {},
                         "shape": [1, 240, 240, 1]}},
        "in_memory": False,
    },
}


def merge_configs(defaults, configs, path="configs"):
    """Deep-merge ``configs`` into a copy of ``defaults``; unknown keys raise ValueError.

    >>> merge_configs(DEFAULT_CONFIGS, {'batch': {'size': 4}})['batch']['size']
    4
    """
    merged = copy.deepcopy(defaults)
    if not isinstance(configs, dict):
        raise ValueError(f"{path} must be a dict, got {type(configs).__name__}")
    for key, value in configs.items():
        where = f"{path}[{key!r}]"
        if key not in merged:
            raise ValueError(f"{where} is not a known config key; known keys here: "
                             f"{sorted(merged)}")
        if key == "norms":
            merged[key] = _check_norms(value, where)
        elif key == "sampling":
            merged[key] = _check_sampling(value, where)
        elif isinstance(merged[key], dict):
            merged[key] = merge_configs(merged[key], value, where)
        else:
            merged[key] = value
    return merged


def _check_norms(norms, where):
    if not isinstance(norms, dict) or set(norms) - set(NORM_KEYS):
        raise ValueError(f"{where} must be a dict with keys among {list(NORM_KEYS)}, got {norms!r}")
    clip = norms.get("clip", {})
    if not isinstance(clip, dict) or set(clip) - {"min", "max"}:
        raise ValueError(f"{where}['clip'] must be a dict with keys 'min'/'max', got {clip!r}")
    return dict(norms)


def _check_sampling(sampling, where):
    if sampling is None:
        return None
    if not isinstance(sampling, dict) or not sampling or set(sampling) - set(COHORTS):
        raise ValueError(f"{where} must map cohort columns {list(COHORTS)} to rates, "
                         f"got {sampling!r}")
    rates = np.array(list(sampling.values()), dtype=float)
    if np.any(rates < 0) or rates.sum() <= 0:
        raise ValueError(f"{where} rates must be >= 0 with a positive sum, got {sampling!r}")
    return {k: float(v) / rates.sum() for k, v in sampling.items()}      # renormalised


def apply_norms(array, norms):
    """``mapping`` {old: new}, then ``clip`` (min, max), then ``(x - shift) / scale``."""
    if "mapping" in norms:
        lut = np.arange(256, dtype=np.int64)
        for old, new in norms["mapping"].items():
            lut[int(old)] = int(new)
        array = lut[array.astype(np.int64)]
    if "clip" in norms:
        array = np.clip(array, norms["clip"].get("min"), norms["clip"].get("max"))
    if "shift" in norms or "scale" in norms:
        array = (array - norms.get("shift", 0)) / norms.get("scale", 1)
    return array


class Client:
    """Seed-compatible client over a store folder (see ``store``).

    Args:
        root: the store folder.
        configs: overrides of ``DEFAULT_CONFIGS``.
        seed: seed of the training generators' sampling (None: fresh entropy).
    """

    def __init__(self, root, configs=None, seed=None):
        self.root = Path(root)
        self.meta = read_meta(self.root)
        if self.meta is None:
            raise FileNotFoundError(f"{root} is not a prepared boxloc dataset (no meta.json)")
        self.configs = merge_configs(DEFAULT_CONFIGS, configs or {})
        self.seed, self._memory = seed, None
        self._volumes = {v["id"]: v for v in self.meta["volumes"]}
        rows = [(v["id"], z, v["split"]) for v in self.meta["volumes"] for z in range(v["slices"])]
        self.rows = np.array(rows, dtype=object)                           # (N, 3)
        self.cohorts = {k: np.concatenate([v["cohorts"][k] for v in self.meta["volumes"]]
                                          ).astype(bool) for k in COHORTS}
        size = self.configs["batch"]["size"]
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"configs['batch']['size'] must be an integer >= 1, got {size!r}")
        if self.configs["specs"]["in_memory"]:
            self.load_data_in_memory()

    def __repr__(self):
        counts = {s: sum(v["split"] == s for v in self.meta["volumes"])
                  for s in ("train", "valid", "test")}
        return (f"Client({self.meta['name']!r}, volumes={counts}, slices={len(self.rows)}, "
                f"batch={self.configs['batch']['size']})")

    # --- loading -------------------------------------------------------------------------------
    def _array(self, volume_id, key):
        if self._memory is not None:
            return self._memory[volume_id][key]
        return np.load(self.root / f"{volume_id}_{key}.npy", mmap_mode="r")

    def volume_array(self, volume_id, key):
        """The whole full-frame array ``key`` ('dat' or 'lbl') of one volume, as stored
        (float16 / uint8), without norms."""
        return read_slices(self._array(volume_id, key), self._volumes[volume_id])

    def load_data_in_memory(self):
        """Read every volume into RAM (float16 as stored, cropped as stored); later batches
        come from memory."""
        self._memory = {v["id"]: {k: np.load(self.root / f"{v['id']}_{k}.npy")
                                  for k in ("dat", "lbl")} for v in self.meta["volumes"]}

    def _item(self, volume_id, slices):
        """(xs, ys) for ``slices`` (a slice object or index array) of one volume, (Z', ...)."""
        xs, ys = {}, {}
        for out, group in ((xs, "xs"), (ys, "ys")):
            for key, spec in self.configs["specs"][group].items():
                array = read_slices(self._array(volume_id, spec["loads"]),
                                    self._volumes[volume_id], slices)
                if array.ndim == 3:
                    array = array[..., None]                               # (Z', H, W, 1)
                out[key] = apply_norms(array, spec["norms"]).astype(spec["dtype"])
        return xs, ys

    def split_rows(self, split):
        if split not in ("train", "valid", "test"):
            raise ValueError(f"split must be 'train', 'valid' or 'test', got {split!r}")
        return np.flatnonzero(self.rows[:, 2] == split)

    # --- generators ----------------------------------------------------------------------------
    def generator(self, split, rng):
        """Infinite random batches of ``batch.size`` slices of ``split`` (stratified if
        ``batch.sampling`` is set: each sample draws a cohort by rate, then the next slice of
        that cohort's shuffled list, reshuffled when used up)."""
        rows = self.split_rows(split)
        if len(rows) == 0:
            raise ValueError(f"split {split!r} holds no volume; use more volumes")
        sampling = self.configs["batch"]["sampling"] or {"all": 1.0}
        pools = {k: rows if k == "all" else rows[self.cohorts[k][rows]] for k in sampling}
        names = [k for k in sampling if len(pools[k])]
        if not names:
            raise ValueError(f"no slice of split {split!r} is in a sampled cohort {list(sampling)}")
        rates = np.array([sampling[k] for k in names]) / sum(sampling[k] for k in names)
        queues = {k: [] for k in names}
        while True:
            xs, ys = {}, {}
            for name in rng.choice(names, size=self.configs["batch"]["size"], p=rates):
                if not queues[name]:
                    queues[name] = list(rng.permutation(pools[name]))
                volume_id, z, _ = self.rows[queues[name].pop()]
                x, y = self._item(volume_id, slice(z, z + 1))
                for out, item in ((xs, x), (ys, y)):
                    for k, v in item.items():
                        out.setdefault(k, []).append(v)
            yield ({k: np.stack(v) for k, v in xs.items()},                 # (B, 1, H, W, C)
                   {k: np.stack(v) for k, v in ys.items()})

    def generator_test(self, split, expand=False):
        """One pass over ``split`` in order: whole volumes (1, Z, H, W, C) if ``expand``, else
        one slice per item (1, 1, H, W, C)."""
        for volume in self.meta["volumes"]:
            if volume["split"] != split:
                continue
            parts = ([slice(None)] if expand
                     else [slice(z, z + 1) for z in range(volume["slices"])])
            for part in parts:
                xs, ys = self._item(volume["id"], part)
                yield ({k: v[None] for k, v in xs.items()}, {k: v[None] for k, v in ys.items()})

    def create_generators(self, test=False, expand=False, seed=None):
        """``(train, valid)`` generators: infinite random batches, or with ``test=True`` one
        ordered pass (``expand=True``: whole volumes). The held-out split: ``generator_test('test')``."""
        if test:
            return self.generator_test("train", expand), self.generator_test("valid", expand)
        seq = np.random.SeedSequence(self.seed if seed is None else seed)
        rng_train, rng_valid = (np.random.default_rng(s) for s in seq.spawn(2))
        return self.generator("train", rng_train), self.generator("valid", rng_valid)

    def get_inputs(self, Input):
        """``{key: Input(shape=(None, H, W, C), dtype, name=key)}`` for each xs spec with
        ``input: true`` (Z left undefined, so whole volumes run through the same model)."""
        return {k: Input(shape=(None, *spec["shape"][1:]), dtype=spec["dtype"], name=k)
                for k, spec in self.configs["specs"]["xs"].items() if spec.get("input", True)}
