"""Minimal GGUF v2/v3 reader in NumPy (metadata + F32/F16/BF16/Q8_0 tensors).

Independent of Frugal's C++ reader; used by the float64 reference.
Layout: magic 'GGUF', u32 version, u64 n_tensors, u64 n_kv, kv pairs, tensor infos,
padding to `general.alignment` (default 32), data section.
"""
import struct
import numpy as np

_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}


class _Cursor:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = bytes(self.buf[self.pos:self.pos + n]).decode("utf-8", errors="replace")
        self.pos += n
        return s

    def value(self, t):
        if t in _SCALAR:
            return self.take(_SCALAR[t])
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("<I"), self.take("<Q")
            return [self.value(et) for _ in range(n)]
        raise ValueError("bad gguf value type %d" % t)


def _dequant(type_id, raw, n):
    if type_id == 0:
        return np.frombuffer(raw, dtype="<f4", count=n).astype(np.float64)
    if type_id == 1:
        return np.frombuffer(raw, dtype="<f2", count=n).astype(np.float64)
    if type_id == 30:
        u = np.frombuffer(raw, dtype="<u2", count=n).astype(np.uint32) << 16
        return u.view(np.float32).astype(np.float64)
    if type_id == 8:  # Q8_0: blocks of (f16 scale, 32 x int8)
        nb = n // 32
        blk = np.frombuffer(raw, dtype=np.uint8, count=nb * 34).reshape(nb, 34)
        d = blk[:, :2].copy().view("<f2").astype(np.float64)
        q = blk[:, 2:].copy().view(np.int8).astype(np.float64)
        return (q * d).reshape(-1)
    raise ValueError("unsupported tensor type %d" % type_id)


_BYTES = {0: (1, 4), 1: (1, 2), 30: (1, 2), 8: (32, 34)}


class Gguf:
    def __init__(self, path):
        self.buf = np.fromfile(path, dtype=np.uint8)
        c = _Cursor(self.buf.tobytes())
        if c.take("<4s") != b"GGUF":
            raise ValueError(path + ": not a GGUF file")
        self.version = c.take("<I")
        n_t, n_kv = c.take("<Q"), c.take("<Q")
        self.meta = {}
        for _ in range(n_kv):
            k = c.string()
            self.meta[k] = c.value(c.take("<I"))
        self.infos = {}
        for _ in range(n_t):
            name = c.string()
            nd = c.take("<I")
            ne = [c.take("<Q") for _ in range(nd)]
            t = c.take("<I")
            off = c.take("<Q")
            self.infos[name] = (ne, t, off)
        align = self.meta.get("general.alignment", 32)
        self.data_start = (c.pos + align - 1) // align * align

    def tensor(self, name):
        """float64 array in PyTorch order (reversed ne)."""
        ne, t, off = self.infos[name]
        n = int(np.prod(ne))
        be, bb = _BYTES[t]
        nbytes = n // be * bb
        start = self.data_start + off
        raw = self.buf[start:start + nbytes].tobytes()
        return _dequant(t, raw, n).reshape(list(reversed(ne)))
