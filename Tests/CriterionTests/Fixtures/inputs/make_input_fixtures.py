#!/usr/bin/env python3
"""Writes the small input-model fixtures of InputTests.swift next to this script, and
values.json: elements read back independently with NumPy, as float32, for the tests to compare.

../upstream/few_queries.safetensors is a copy of the conformance case of the same name (flattened layout, dn);
this script only reads it. Run: python3 make_input_fixtures.py   (needs numpy)
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype string, ndarray). BF16 arrays are given as float32 and truncated."""
    header, blobs, offset = {}, [], 0
    for name, dtype, array in tensors:
        if dtype == "BF16":
            data = (np.ascontiguousarray(array, dtype=np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        else:
            data = np.ascontiguousarray(array, dtype=np.dtype(DTYPES[dtype]).newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")).reshape(info["shape"])
    return out


def as_f32(dtype, array):
    """The float32 values the loader must produce for `array` stored as `dtype`."""
    if dtype == "BF16":
        return ((np.asarray(array, np.float32).view(np.uint32) >> 16) << 16).astype(np.uint32).view(np.float32)
    return np.asarray(np.asarray(array, DTYPES[dtype]), np.float32)


def picks(array, count, rng):
    """`count` multi-indices of `array`: the first, the last and some in between."""
    shape = array.shape
    flat = [0, array.size - 1] + list(rng.integers(0, array.size, count - 2))
    return [[int(i) for i in np.unravel_index(f, shape)] for f in flat]


def checks(values, head, part, array, rng, count=6):
    for index in picks(array, count, rng):
        values.append({"head": head, "part": part, "index": index, "value": float(array[tuple(index)])})


def main():
    rng = np.random.default_rng(20240501)
    out = {}

    # 1. few_queries (flattened, dn): read the copy of the conformance case.
    d = read_safetensors(os.path.join(HERE, "..", "upstream", "few_queries.safetensors"))
    vals = []
    checks(vals, "final", "logits", d["pred_logits"], rng)
    checks(vals, "final", "boxes", d["pred_boxes"], rng)
    checks(vals, "aux_1", "logits", d["aux_outputs.1.pred_logits"], rng)
    checks(vals, "interm", "boxes", d["interm_outputs.pred_boxes"], rng)
    checks(vals, "dn", "logits", d["dn_meta.output_known_lbs_bboxes.pred_logits"], rng)
    checks(vals, "dn_0", "boxes", d["dn_meta.output_known_lbs_bboxes.aux_outputs.0.pred_boxes"], rng)
    out["few_queries"] = {
        "batch": 2, "queries": int(d["pred_logits"].shape[1]), "classes": int(d["pred_logits"].shape[2]),
        "aux": sum(1 for k in d if k.startswith("aux_outputs.") and k.endswith("pred_logits")),
        "pad_size": int(d["dn_meta.pad_size"]), "groups": int(d["dn_meta.num_dn_group"]),
        "labels": [d["targets.%d.labels" % b].tolist() for b in range(2)],
        "target_boxes": [d["targets.%d.boxes" % b].astype(np.float64).reshape(-1).tolist() for b in range(2)],
        "values": vals,
    }

    # 2. stacked layout: L = 3 layers, B = 2, pad_size = 6 (3 groups of 2), Q = 5, C = 4; F32 classes, F16 coords.
    L, B, P, Q, C = 3, 2, 6, 5, 4
    cls = rng.normal(-2, 2, (L, B, P + Q, C)).astype(np.float32)
    coord = np.concatenate([rng.uniform(0.2, 0.8, (L, B, P + Q, 2)), rng.uniform(0.0, 0.3, (L, B, P + Q, 2))], -1)
    interm_l = rng.normal(-2, 2, (B, Q, C)).astype(np.float32)
    interm_b = rng.uniform(0.1, 0.5, (B, Q, 4)).astype(np.float32)
    labels = [np.array([3, 0], np.int64), np.array([2], np.int64)]
    tboxes = [rng.uniform(0.1, 0.5, (2, 4)).astype(np.float32), rng.uniform(0.1, 0.5, (1, 4)).astype(np.float32)]
    tensors = [("outputs_class", "F32", cls), ("outputs_coord", "F16", coord),
               ("dn_meta.pad_size", "I64", np.array(P)), ("dn_meta.num_dn_group", "I64", np.array(3)),
               ("interm_outputs.pred_logits", "F32", interm_l), ("interm_outputs.pred_boxes", "F32", interm_b)]
    for b in range(B):
        tensors += [("targets.%d.labels" % b, "I64", labels[b]), ("targets.%d.boxes" % b, "F32", tboxes[b])]
    write_safetensors(os.path.join(HERE, "stacked.safetensors"), tensors)
    np.savez(os.path.join(HERE, "stacked.npz"), **{name: np.asarray(a, DTYPES[t]) for name, t, a in tensors})
    coord32 = as_f32("F16", coord)
    vals = []
    for layer, (head, dn) in enumerate([("aux_0", "dn_0"), ("aux_1", "dn_1"), ("final", "dn")]):
        checks(vals, head, "logits", cls[layer, :, P:, :], rng)
        checks(vals, head, "boxes", coord32[layer, :, P:, :], rng)
        checks(vals, dn, "logits", cls[layer, :, :P, :], rng)
        checks(vals, dn, "boxes", coord32[layer, :, :P, :], rng)
    checks(vals, "interm", "logits", interm_l, rng)
    out["stacked"] = {"batch": B, "queries": Q, "classes": C, "aux": L - 1, "pad_size": P, "groups": 3,
                      "labels": [l.tolist() for l in labels],
                      "target_boxes": [t.astype(np.float64).reshape(-1).tolist() for t in tboxes], "values": vals}

    # 3. flattened, mixed dtypes, enc heads and masks, no dn: B = 2, Q = 3, C = 4, h × w = 2 × 3.
    B, Q, C = 2, 3, 4
    arrays = {
        "pred_logits": ("BF16", rng.normal(-1, 3, (B, Q, C))),
        "pred_boxes": ("F64", rng.uniform(0.05, 0.5, (B, Q, 4))),
        "aux_outputs.0.pred_logits": ("F16", rng.normal(-1, 3, (B, Q, C))),
        "aux_outputs.0.pred_boxes": ("F32", rng.uniform(0.05, 0.5, (B, Q, 4))),
        "enc_outputs.0.pred_logits": ("F32", rng.normal(-1, 3, (B, Q, C))),
        "enc_outputs.0.pred_boxes": ("F32", rng.uniform(0.05, 0.5, (B, Q, 4))),
        "enc_outputs.1.pred_logits": ("F64", rng.normal(-1, 3, (B, Q, C))),
        "enc_outputs.1.pred_boxes": ("F32", rng.uniform(0.05, 0.5, (B, Q, 4))),
        "pred_masks": ("F32", rng.normal(0, 2, (B, Q, 2, 3))),
        "targets.0.labels": ("I32", np.array([1, 3])),
        "targets.0.boxes": ("F64", rng.uniform(0.05, 0.5, (2, 4))),
        "targets.0.masks": ("U8", (rng.uniform(0, 1, (2, 4, 5)) > 0.5).astype(np.uint8)),
        "targets.1.labels": ("I32", np.array([0])),
        "targets.1.boxes": ("F64", rng.uniform(0.05, 0.5, (1, 4))),
        "targets.1.masks": ("F32", rng.uniform(0, 1, (1, 3, 6))),
    }
    write_safetensors(os.path.join(HERE, "mixed.safetensors"), [(n, t, a) for n, (t, a) in arrays.items()])
    f32 = {n: as_f32(t, a) for n, (t, a) in arrays.items()}
    vals = []
    checks(vals, "final", "logits", f32["pred_logits"], rng)
    checks(vals, "final", "boxes", f32["pred_boxes"], rng)
    checks(vals, "aux_0", "logits", f32["aux_outputs.0.pred_logits"], rng)
    checks(vals, "enc_1", "logits", f32["enc_outputs.1.pred_logits"], rng)
    checks(vals, "enc_0", "boxes", f32["enc_outputs.0.pred_boxes"], rng)
    checks(vals, "masks", "predicted", f32["pred_masks"].reshape(B, Q, 6), rng)
    masks = [f32["targets.0.masks"], f32["targets.1.masks"]]
    out["mixed"] = {"batch": B, "queries": Q, "classes": C, "aux": 1, "enc": 2,
                    "labels": [[1, 3], [0]],
                    "target_boxes": [f32["targets.%d.boxes" % b].astype(np.float64).reshape(-1).tolist() for b in range(B)],
                    "mask_sizes": [list(m.shape[1:]) for m in masks],
                    "target_masks": np.concatenate([m.reshape(-1) for m in masks]).astype(np.float64).tolist(),
                    "values": vals}

    with open(os.path.join(HERE, "values.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
