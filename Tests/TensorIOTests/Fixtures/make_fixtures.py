#!/usr/bin/env python3
"""Regenerates the TensorIO test fixtures in this folder (deterministic; needs numpy and safetensors).

Good files:  dtypes.safetensors (written by the safetensors package), bf16.safetensors (numpy has no
bfloat16, so it is written by the small writer below, which is first checked byte for byte against the
safetensors package), arrays.npz (numpy.savez), arrays_compressed.npz (numpy.savez_compressed),
matrix.npy, scalar.npy, v2.npy, v3.npy (numpy.save / numpy.lib.format), and expected.json, which holds
every small tensor's dtype, shape and values as numpy sees them (floats as float.hex() of the float64
value, integers as decimal strings), plus numpy's float16 -> float32 conversion of a sample of all
float16 bit patterns.

Bad files (bad_*.npz, bad_*.npy): zip archives and .npy files that readers must reject; the zip ones
are assembled by hand below so that each has exactly one defect.

Usage: python3 make_fixtures.py   (writes into the folder this script is in)
"""
import json
import os
import struct
import zipfile
import zlib

import numpy as np
from safetensors.numpy import load_file, save, save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def out(name):
    return os.path.join(HERE, name)


def small_arrays():
    """The small tensors of dtypes.safetensors, one or more per dtype, with special values."""
    f16_special = np.array([0.0, -0.0, 1.0, -2.0, 65504.0, 2.0 ** -24, 2.0 ** -14, 0.099975586,
                            np.inf, -np.inf, np.nan], dtype=np.float16)
    return {
        "f64_special": np.array([0.0, -0.0, 1.5, 5e-324, 1.7976931348623157e308, np.nan, np.inf, -np.inf, -1e-310]),
        "f64_round": np.array([0.1, 1.0 / 3.0, 1.0 + 2.0 ** -24, 1.0 + 3 * 2.0 ** -25, 1e-40, 1e-46,
                               3.4028234663852886e38, -123456789.123456789]),
        "f32_matrix": np.array([[1.0, -2.5, 3.25], [np.float32(1e-45), np.inf, np.nan]], dtype=np.float32),
        "f16_special": f16_special,
        "i64": np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, -1, 0, 2 ** 53 + 1], dtype=np.int64),
        "i32": np.array([[np.iinfo(np.int32).min, -7], [0, np.iinfo(np.int32).max]], dtype=np.int32),
        "i16": np.array([-32768, -1, 0, 32767], dtype=np.int16),
        "i8": np.array([-128, -1, 0, 127], dtype=np.int8),
        "u8": np.array([0, 1, 200, 255], dtype=np.uint8),
        "bool": np.array([True, False, True, True], dtype=np.bool_),
        "scalar_i64": np.array(7, dtype=np.int64),
        "scalar_i32": np.array(-3, dtype=np.int32),
        "scalar_f64": np.array(2.5, dtype=np.float64),
        "scalar_bool": np.array(True),
        "empty_f32": np.zeros((0, 4), dtype=np.float32),
        "empty_i64": np.zeros((0,), dtype=np.int64),
        "targets.0.labels": np.array([3, 1, 4], dtype=np.int64),
        "targets.0.boxes": np.array([[0.5, 0.5, 0.2, 0.1], [0.25, 0.75, 0.5, 0.5], [0.1, 0.9, 0.05, 0.05]],
                                    dtype=np.float32),
    }


SAFETENSORS_NAMES = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
                     np.dtype(np.int64): "I64", np.dtype(np.int32): "I32", np.dtype(np.int16): "I16",
                     np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL"}


def describe(array, dtype_name):
    """dtype, shape and values of an array as numpy sees them, for expected.json."""
    flat = array.reshape(-1)
    if array.dtype.kind == "f":
        values = [float(v).hex() for v in flat.astype(np.float64)]
    elif array.dtype.kind == "b":
        values = [str(int(v)) for v in flat]
    else:
        values = [str(int(v)) for v in flat]
    return {"dtype": dtype_name, "shape": list(array.shape), "values": values}


def hand_safetensors(tensors):
    """A safetensors writer for dtypes numpy lacks: tensors is a list of (name, dtype, shape, bytes)."""
    header = {}
    offset = 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in tensors)


def check_hand_writer():
    """The hand writer must agree with the safetensors package on files the package can write."""
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, -2], dtype=np.int64)}
    ours = hand_safetensors([(k, SAFETENSORS_NAMES[v.dtype], v.shape, v.tobytes()) for k, v in sorted(arrays.items())])
    theirs = save(arrays)
    # Same tensors either way (the package may order or pad its header differently).
    import safetensors.numpy as stn
    a, b = stn.load(ours), stn.load(theirs)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), "hand writer disagrees"


def bf16_bits_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def main():
    expected = {}

    # dtypes.safetensors: the safetensors package writes it.
    arrays = small_arrays()
    f16_all = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    to_save = dict(arrays)
    to_save["f16_all"] = f16_all
    save_file(to_save, out("dtypes.safetensors"), metadata={"producer": "make_fixtures.py", "note": "tensorio fixtures"})
    loaded = load_file(out("dtypes.safetensors"))
    assert all(np.array_equal(loaded[k], v, equal_nan=(v.dtype.kind == "f")) for k, v in to_save.items())
    expected["dtypes.safetensors"] = {k: describe(v, SAFETENSORS_NAMES[v.dtype]) for k, v in arrays.items()}
    # numpy's own float64 -> float32 rounding of f64_round, and float16 -> float32 of a sample of all patterns.
    expected["f64_round_as_f32"] = [float(v).hex() for v in arrays["f64_round"].astype(np.float32).astype(np.float64)]
    sample = list(range(0, 65536, 257)) + [0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0x7C01, 0x7E00, 0x7FFF,
                                            0x8000, 0x8001, 0xFBFF, 0xFC00, 0xFE00, 0xFFFF]
    expected["f16_all_sample"] = {str(i): float(f16_all[i].astype(np.float32)).hex() for i in sample}
    expected["metadata"] = {"producer": "make_fixtures.py", "note": "tensorio fixtures"}

    # bf16.safetensors: written by hand (checked against the package first).
    check_hand_writer()
    bf16_all = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    bf16_special = np.array([0x0000, 0x8000, 0x3F80, 0xC000, 0x7F7F, 0x0001, 0x0080, 0x7F80, 0xFF80, 0x7FC0, 0x3E4D],
                            dtype=np.uint16)
    save_bf16 = [("bf16_all", "BF16", (256, 256), bf16_all.tobytes()),
                 ("bf16_special", "BF16", bf16_special.shape, bf16_special.tobytes()),
                 ("f32_after", "F32", (2,), np.array([1.25, -8.0], dtype=np.float32).tobytes())]
    with open(out("bf16.safetensors"), "wb") as f:
        f.write(hand_safetensors(save_bf16))
    expected["bf16.safetensors"] = {
        "bf16_special": {"dtype": "BF16", "shape": [11],
                         "values": [float(v).hex() for v in bf16_bits_to_f32(bf16_special).astype(np.float64)]},
        "f32_after": describe(np.array([1.25, -8.0], dtype=np.float32), "F32"),
    }

    # .npz (stored and deflated) with every dtype .npy can hold.
    npz_arrays = {k: v for k, v in arrays.items()}
    np.savez(out("arrays.npz"), **npz_arrays)
    np.savez_compressed(out("arrays_compressed.npz"), **npz_arrays)
    expected["arrays.npz"] = {k: describe(v, SAFETENSORS_NAMES[v.dtype]) for k, v in npz_arrays.items()}

    # Single .npy arrays: format versions 1.0, 2.0 and 3.0.
    matrix = (np.arange(12, dtype=np.float64).reshape(3, 4) - 5.5) / 3.0
    np.save(out("matrix.npy"), matrix)
    np.save(out("scalar.npy"), np.array(42, dtype=np.int64))
    with open(out("v2.npy"), "wb") as f:
        np.lib.format.write_array(f, np.array([1.5, -2.0, 0.25], dtype=np.float32), version=(2, 0))
    with open(out("v3.npy"), "wb") as f:
        np.lib.format.write_array(f, np.array([[1, 2], [3, 4]], dtype=np.int16), version=(3, 0))
    expected["matrix.npy"] = describe(matrix, "F64")
    expected["scalar.npy"] = describe(np.array(42, dtype=np.int64), "I64")
    expected["v2.npy"] = describe(np.array([1.5, -2.0, 0.25], dtype=np.float32), "F32")
    expected["v3.npy"] = describe(np.array([[1, 2], [3, 4]], dtype=np.int16), "I16")

    make_bad_files()

    with open(out("expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


# ---------------------------------------------------------------- bad files

def npy_bytes(array):
    import io
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def raw_deflate(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def build_zip(members, cd_overrides=None):
    """A zip archive assembled by hand. members: list of dicts with name, data (as stored in the
    archive), method, crc, size (uncompressed), flags. cd_overrides: per-member dict of central
    directory fields to replace (e.g. 'offset')."""
    body = b""
    central = b""
    offsets = []
    for m in members:
        name = m["name"].encode()
        offsets.append(len(body))
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, m.get("flags", 0), m["method"], 0, 0x21,
                            m["crc"], len(m["data"]), m["size"], len(name), 0)
        body += local + name + m["data"]
    for i, m in enumerate(members):
        name = m["name"].encode()
        offset = (cd_overrides or {}).get(i, {}).get("offset", offsets[i])
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, m.get("flags", 0), m["method"], 0, 0x21,
                               m["crc"], len(m["data"]), m["size"], len(name), 0, 0, 0, 0, 0, offset) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(body), 0)
    return body + central + end


def stored(name, payload, **extra):
    d = {"name": name, "data": payload, "method": 0, "crc": zlib.crc32(payload), "size": len(payload)}
    d.update(extra)
    return d


def deflated(name, payload, **extra):
    d = {"name": name, "data": raw_deflate(payload), "method": 8, "crc": zlib.crc32(payload), "size": len(payload)}
    d.update(extra)
    return d


def make_bad_files():
    a = npy_bytes(np.arange(64, dtype=np.float32))
    b = npy_bytes(np.array([1, 2, 3], dtype=np.int64))

    # The hand-built zip itself must be valid, so that each bad file has only its own defect.
    good = build_zip([stored("a.npy", a), deflated("b.npy", b)])
    with open(out("handmade.npz"), "wb") as f:
        f.write(good)
    with np.load(out("handmade.npz")) as z:
        assert np.array_equal(z["a"], np.arange(64, dtype=np.float32)) and np.array_equal(z["b"], [1, 2, 3])

    bad = {}
    # A data byte of a stored member flipped: the CRC-32 no longer matches.
    corrupted = bytearray(good)
    corrupted[30 + len("a.npy") + 128 + 10] ^= 0xFF
    bad["bad_crc.npz"] = bytes(corrupted)
    # Garbage inside a deflate stream.
    big = npy_bytes(np.arange(4096, dtype=np.float64))
    stream = bytearray(raw_deflate(big))
    for k in range(20, 60):
        stream[k] ^= 0x5A
    bad["bad_inflate.npz"] = build_zip([{"name": "x.npy", "data": bytes(stream), "method": 8,
                                         "crc": zlib.crc32(big), "size": len(big)}])
    # A deflate stream cut in half (the directory is consistent with the shorter data).
    half = raw_deflate(big)[: len(raw_deflate(big)) // 2]
    bad["bad_deflate_truncated.npz"] = build_zip([{"name": "x.npy", "data": half, "method": 8,
                                                   "crc": zlib.crc32(big), "size": len(big)}])
    # Declared uncompressed size larger than what the stream inflates to.
    bad["bad_size.npz"] = build_zip([deflated("b.npy", b, size=len(b) + 100)])
    # The file cut in the middle: no end-of-central-directory record.
    bad["bad_truncated.npz"] = good[: len(good) // 2]
    # Two members with the same name.
    bad["bad_duplicate.npz"] = build_zip([stored("a.npy", a), stored("a.npy", a)])
    # A member that is not a .npy array.
    bad["bad_not_npy.npz"] = build_zip([stored("notes.txt", b"just some text, not an array\n")])
    # An encrypted member, and one compressed with bzip2 (method 12).
    bad["bad_encrypted.npz"] = build_zip([stored("a.npy", a, flags=1)])
    bad["bad_method.npz"] = build_zip([stored("a.npy", a, method=12)])
    # Two members whose bytes overlap: o.npy's stored data hides a complete local header for c.npy,
    # and the second directory entry points at that hidden header instead of c.npy's real one.
    hidden = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, zlib.crc32(b), len(b), len(b),
                         len("c.npy"), 0) + b"c.npy" + b
    bad["bad_overlap.npz"] = build_zip([stored("o.npy", hidden), stored("c.npy", b)],
                                       cd_overrides={1: {"offset": 30 + len("o.npy")}})
    # A member whose .npy is big-endian.
    bad["bad_member_bigendian.npz"] = build_zip([stored("a.npy", npy_bytes(np.arange(3, dtype=">f4")))])
    for name, data in bad.items():
        with open(out(name), "wb") as f:
            f.write(data)

    # .npy files numpy itself writes but readers reject.
    np.save(out("bad_fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    np.save(out("bad_object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(out("bad_bigendian.npy"), np.arange(4, dtype=">f8"))
    np.save(out("bad_complex.npy"), np.arange(4, dtype=np.complex64))
    np.save(out("bad_structured.npy"), np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")]))


if __name__ == "__main__":
    main()
