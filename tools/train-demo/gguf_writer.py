"""A minimal GGUF (version 3) writer with numpy: metadata key/values and F32 / F16 tensors.

Layout (../../../shared/docs/reference/gguf.md): magic "GGUF", u32 version, u64 tensor count,
u64 key/value count; the key/values; one info record per tensor (name, n_dims, ne[] innermost
first, ggml type, offset into the data section); padding to `general.alignment` (32); the
tensor data, each tensor starting at a multiple of the alignment. Everything little-endian.
"""
import struct

import numpy as np

ALIGNMENT = 32

# gguf_type
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
# ggml_type
GGML_F32, GGML_F16 = 0, 1

_SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
           BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}


def _string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(vtype, v):
    if vtype == STRING:
        return _string(v)
    return struct.pack(_SCALAR[vtype], v)


class GgufWriter:
    def __init__(self):
        self.kv = []        # (key, type, value, elem_type)
        self.tensors = []   # (name, ne, ggml_type, bytes)

    def add(self, key, vtype, value):
        self.kv.append((key, vtype, value, None))

    def add_array(self, key, elem_type, values):
        self.kv.append((key, ARRAY, list(values), elem_type))

    def add_tensor(self, name, array, ggml_type):
        """array: numpy, PyTorch dimension order; stored with ne reversed (innermost first)."""
        dtype = {GGML_F32: np.float32, GGML_F16: np.float16}[ggml_type]
        a = np.ascontiguousarray(array, dtype=dtype)
        self.tensors.append((name, list(reversed(a.shape)), ggml_type, a.tobytes()))

    def _kv_bytes(self):
        out = bytearray()
        for key, vtype, value, elem in self.kv:
            out += _string(key) + struct.pack("<I", vtype)
            if vtype != ARRAY:
                out += _value(vtype, value)
                continue
            out += struct.pack("<IQ", elem, len(value))
            if elem == STRING:
                for v in value:
                    out += _string(v)
            else:
                out += np.asarray(value, dtype=np.dtype(_SCALAR[elem])).tobytes()
        return bytes(out)

    def write(self, path):
        infos, offset = bytearray(), 0
        offsets = []
        for name, ne, gtype, data in self.tensors:
            offsets.append(offset)
            infos += _string(name) + struct.pack("<I", len(ne))
            infos += struct.pack(f"<{len(ne)}Q", *ne) + struct.pack("<IQ", gtype, offset)
            offset += (len(data) + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
        head = b"GGUF" + struct.pack("<IQQ", 3, len(self.tensors), len(self.kv))
        head += self._kv_bytes() + bytes(infos)
        with open(path, "wb") as f:
            f.write(head)
            f.write(b"\0" * (-len(head) % ALIGNMENT))
            for (_, _, _, data), off in zip(self.tensors, offsets):
                f.write(data)
                f.write(b"\0" * (-len(data) % ALIGNMENT))
