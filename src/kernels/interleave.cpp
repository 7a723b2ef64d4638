#include "kernels/interleave.h"

#include <array>
#include <bit>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "kernels/gemm.h"

namespace frugal {
namespace {

constexpr int kBlockBytes = 34;  // Q8_0: f16 d, 32 x int8
constexpr int kRows = kQ8_0Interleave;

// Byte of value i (< 32) of block b, row ri, in a group's quants.
size_t quant_index(int64_t b, int ri, int i) {
  return static_cast<size_t>(b) * 512 + static_cast<size_t>(i / 4) * 64 + ri * 4 + i % 4;
}

}  // namespace

size_t q8_0_r16_quants_offset(int64_t cols) {
  return (static_cast<size_t>(cols / 32) * kRows * 2 + 63) / 64 * 64;
}

size_t q8_0_r16_group_bytes(int64_t cols) {
  return q8_0_r16_quants_offset(cols) + static_cast<size_t>(cols / 32) * 512;
}

namespace {

// Group bytes of the layouts built from 256-value super-blocks of kSuper bytes per group.
template <size_t kSuper>
size_t super_block_group_bytes(int64_t cols) {
  return static_cast<size_t>(cols / 256) * kSuper;
}

size_t q5_0_r16_group_bytes(int64_t cols) {
  return q8_0_r16_quants_offset(cols) + static_cast<size_t>(cols / 32) * kQ5_0R16BlockBytes;
}

size_t group_bytes(const WeightMatrix& w) {
  return find_r16_layout(w.type)->group_bytes(w.cols);
}

// w is a plain view of whole groups of whole blocks of layout l.
bool fits(const WeightMatrix& w, const R16Layout& l) {
  return w.interleave == 1 && w.rows % kRows == 0 && w.cols % l.col_block == 0;
}

// Quads of 4-bit parts packed as the r16 layouts want: nibble `sel` of each byte of a (values
// 4c..4c+3 of each quad) in the low nibbles, of b (values 16 + 4c..) in the high ones. U is
// uint32_t (one quad) or uint64_t (two quads: bytes 0-3 the first, 4-7 the next).
template <typename U>
U pack_nibbles(U a, U b, int sel) {
  constexpr U kLow = static_cast<U>(0x0F0F0F0F0F0F0F0Full);
  return sel == 0 ? (a & kLow) | ((b & kLow) << 4) : ((a >> 4) & kLow) | (b & ~kLow);
}

// Stores v's four bytes little-endian (byte k = bits 8k..8k+7), as load_le reads them.
void store_le32(uint8_t* p, uint32_t v) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, 4);
  } else {
    for (int k = 0; k < 4; ++k) p[k] = static_cast<uint8_t>(v >> (8 * k));
  }
}

// Bit j of byte n of x moved to bit n of byte j (an 8 x 8 bit-matrix transpose: three rounds
// of swapping off-diagonal blocks of 1, 2 and 4 bits).
uint64_t transpose_bits_8x8(uint64_t x) {
  uint64_t t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
  x ^= t ^ (t << 7);
  t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
  x ^= t ^ (t << 14);
  t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
  return x ^ t ^ (t << 28);
}

// 6-bit scale and min of sub-block j from a Q4_K block's 12 packed bytes (gguf.md §5.8).
void q4_k_scale_min(const uint8_t* s, int j, uint8_t* sc, uint8_t* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4));
    *mn = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// Calls pack(block, group_out, b, ri) for block b of row ri of every group of rows [r0, r1):
// block is the plain block (block_bytes each, values_per_block values), group_out the start of
// the group's interleaved copy in dst.
template <typename PackBlock>
void for_each_block(const WeightMatrix& w, int64_t r0, int64_t r1, uint8_t* dst,
                    int values_per_block, int block_bytes, PackBlock pack) {
  const size_t group = group_bytes(w);
  for (int64_t g = r0 / kRows; g < r1 / kRows; ++g) {
    const uint8_t* rows[kRows];
    for (int ri = 0; ri < kRows; ++ri) rows[ri] = w.row(g * kRows + ri);
    // Block-major, so the stores of one block's 16 rows share the few cache lines it fills.
    for (int64_t b = 0; b < w.cols / values_per_block; ++b)
      for (int ri = 0; ri < kRows; ++ri)
        pack(rows[ri] + b * block_bytes, dst + static_cast<size_t>(g) * group, b, ri);
  }
}

// Q4_K block (144 bytes): d @0, dmin @2, scales[12] @4, qs[128] @16; value l of sub-block j is
// the low (j even) or high nibble of qs[32 (j / 2) + l]. Q5_K (176 bytes): the same with qh[32]
// @16 and qs @48; bit j of qh[l] is the fifth bit of value l of sub-block j.
template <bool kFive>
void interleave_q4_or_5_k_rows(const WeightMatrix& w, int64_t r0, int64_t r1, uint8_t* dst) {
  constexpr int kBytes = kFive ? 176 : 144, kQs = kFive ? 48 : 16;
  constexpr size_t kSuper = kFive ? kQ5KR16SuperBytes : kQ4KR16SuperBytes;
  for_each_block(w, r0, r1, dst, 256, kBytes,
                 [](const uint8_t* blk, uint8_t* group, int64_t b, int ri) {
                   uint8_t* out = group + static_cast<size_t>(b) * kSuper;
                   std::memcpy(out + ri * 2, blk, 2);
                   std::memcpy(out + kQ4KR16Dmin + ri * 2, blk + 2, 2);
                   for (int j = 0; j < 8; ++j) {
                     uint8_t sc, mn;
                     q4_k_scale_min(blk + 4, j, &sc, &mn);
                     out[kQ4KR16Sc + j * 16 + ri] = sc;
                     out[kQ4KR16Mn + (j / 2) * 32 + ri * 2 + j % 2] = mn;
                   }
                   // Sub-block 2p takes the low nibbles of its 32 bytes, 2p + 1 the high ones; two
                   // quads (8 bytes) at a time.
                   for (int p = 0; p < 4; ++p) {
                     const uint8_t* qs = blk + kQs + 32 * p;
                     for (int c = 0; c < 4; c += 2) {
                       const uint64_t a = load_le<uint64_t>(qs + 4 * c),
                                      bq = load_le<uint64_t>(qs + 16 + 4 * c);
                       for (int half = 0; half < 2; ++half) {
                         const uint64_t v = pack_nibbles(a, bq, half);
                         uint8_t* o = out + kQ4KR16Qs + (2 * p + half) * 256 + c * 64 + ri * 4;
                         store_le32(o, static_cast<uint32_t>(v));
                         store_le32(o + 64, static_cast<uint32_t>(v >> 32));
                       }
                     }
                   }
                   if constexpr (kFive) {
                     // byte k, bit n of sub-block j: bit j of qh[16 (n % 2) + 4 (n / 2) + k]. For
                     // each k the eight bytes qh[...] (n = 0..7) form an 8 x 8 bit matrix whose
                     // transpose holds the output bytes of the eight sub-blocks.
                     const uint8_t* qh = blk + 16;
                     for (int k = 0; k < 4; ++k) {
                       uint64_t x = 0;
                       for (int n = 0; n < 8; ++n)
                         x |= static_cast<uint64_t>(qh[16 * (n % 2) + 4 * (n / 2) + k]) << (8 * n);
                       x = transpose_bits_8x8(x);
                       for (int j = 0; j < 8; ++j)
                         out[kQ5KR16Qh + j * 64 + ri * 4 + k] = static_cast<uint8_t>(x >> (8 * j));
                     }
                   }
                 });
}

// Value index of byte k of nibble vector n (= 2c + half) of chunk j.
int q6_k_r16_value(int j, int n, int k) {
  return 32 * j + 16 * (n % 2) + 4 * (n / 2) + k;
}

// Transposes the 4 x 4 matrix of 2-bit fields held in each byte lane of a[0..3]: afterwards field
// p (bits 2p, 2p + 1) of byte k of a[m] is what field m of byte k of a[p] was.
void transpose_2bit_fields(uint32_t (&a)[4]) {
  for (int i = 0; i < 4; i += 2) {  // swap fields 1, 3 of a[i] with fields 0, 2 of a[i + 1]
    const uint32_t t = ((a[i] >> 2) ^ a[i + 1]) & 0x33333333u;
    a[i + 1] ^= t;
    a[i] ^= t << 2;
  }
  for (int i = 0; i < 2; ++i) {  // swap fields 2, 3 of a[i] with fields 0, 1 of a[i + 2]
    const uint32_t t = ((a[i] >> 4) ^ a[i + 2]) & 0x0F0F0F0Fu;
    a[i + 2] ^= t;
    a[i] ^= t << 4;
  }
}

// Q6_K block (210 bytes, gguf.md §5.10): ql[128] @0, qh[64] @128, scales int8[16] @192, d @208.
// Value 128h + 32m + l (l < 32) has its low 4 bits in nibble m / 2 of ql[64h + 32 (m % 2) + l]
// and its high 2 bits at bit 2m of qh[32h + l]; chunk j of the r16 layout is h = j / 4,
// m = j % 4. Four bytes (k = 0..3) at a time.
void interleave_q6_k_rows(const WeightMatrix& w, int64_t r0, int64_t r1, uint8_t* dst) {
  for_each_block(
      w, r0, r1, dst, 256, 210, [](const uint8_t* blk, uint8_t* group, int64_t b, int ri) {
        uint8_t* out = group + static_cast<size_t>(b) * kQ6KR16SuperBytes;
        for (int j = 0; j < 8; ++j) {
          const int h = j / 4, m = j % 4;
          const uint8_t* ql = blk + 64 * h + 32 * (m % 2);
          for (int c = 0; c < 4; ++c) {
            store_le32(out + j * 256 + c * 64 + ri * 4,
                       pack_nibbles<uint32_t>(load_le<uint32_t>(ql + 4 * c),
                                              load_le<uint32_t>(ql + 16 + 4 * c), m / 2));
          }
        }
        // qh vector hh of chunk j = 4h + m: bits 2p, 2p + 1 of byte k are bits 2m, 2m + 1 of
        // qh[32h + l] for the value l = q6_k_r16_value(0, 4hh + p, k), so the four chunks of one h
        // take the four 2-bit fields of the same four words, transposed.
        for (int h = 0; h < 2; ++h)
          for (int hh = 0; hh < 2; ++hh) {
            uint32_t a[4];
            for (int p = 0; p < 4; ++p)
              a[p] = load_le<uint32_t>(blk + 128 + 32 * h + q6_k_r16_value(0, 4 * hh + p, 0));
            transpose_2bit_fields(a);
            for (int m = 0; m < 4; ++m)
              store_le32(out + kQ6KR16Qh + (4 * h + m) * 128 + hh * 64 + ri * 4, a[m]);
          }
        for (int sb = 0; sb < 16; ++sb) out[kQ6KR16Sc + sb * 16 + ri] = blk[192 + sb];
        std::memcpy(out + kQ6KR16D + ri * 2, blk + 208, 2);
        if (ri == 0) std::memset(out + kQ6KR16D + 32, 0, kQ6KR16SuperBytes - kQ6KR16D - 32);
      });
}

// Value of byte k of nibble vector n (= 2c + half) of a Q5_0 r16 block.
int q5_0_r16_value(int n, int k) {
  return 16 * (n % 2) + 4 * (n / 2) + k;
}

// Bit k of x (k < 4) moved to bit 0 of byte k.
constexpr uint32_t spread_bits4(uint32_t x) {
  return (x & 1) | ((x & 2) << 7) | ((x & 4) << 14) | ((x & 8) << 21);
}

// For a byte x: bit k of its low nibble at bit 8k, of its high nibble at bit 8k + 2.
constexpr std::array<uint32_t, 256> make_nibble_pair_spread() {
  std::array<uint32_t, 256> t{};
  for (uint32_t x = 0; x < 256; ++x) t[x] = spread_bits4(x & 0xF) | (spread_bits4(x >> 4) << 2);
  return t;
}
constexpr std::array<uint32_t, 256> kNibblePairSpread = make_nibble_pair_spread();

// The Q5_0 r16 qh word of a plain qh: bit n of byte k is bit q5_0_r16_value(n, k) of qh. Nibble i
// of qh (values 4i..4i+3) feeds bit n = 2i (i < 4) or 2 (i - 4) + 1, so byte m of qh (nibbles
// 2m, 2m + 1) lands, spread, at bits {0, 2} + {0, 4, 1, 5}[m] of every output byte.
uint32_t q5_0_r16_qh(uint32_t qh) {
  return kNibblePairSpread[qh & 0xFF] | (kNibblePairSpread[(qh >> 8) & 0xFF] << 4) |
         (kNibblePairSpread[(qh >> 16) & 0xFF] << 1) | (kNibblePairSpread[qh >> 24] << 5);
}

// Q5_0 block (22 bytes): d f16 @0, qh u32 @2, qs[16] @6 (gguf.md §5.3).
void interleave_q5_0_rows(const WeightMatrix& w, int64_t r0, int64_t r1, uint8_t* dst) {
  const size_t qoff = q8_0_r16_quants_offset(w.cols);
  for_each_block(w, r0, r1, dst, 32, 22,
                 [qoff](const uint8_t* blk, uint8_t* out, int64_t b, int ri) {
                   if (b == 0 && ri == 0) std::memset(out, 0, qoff);  // the scales' padding
                   uint8_t* ob = out + qoff + static_cast<size_t>(b) * kQ5_0R16BlockBytes;
                   std::memcpy(out + (b * kRows + ri) * 2, blk, 2);
                   for (int c = 0; c < 4; ++c)
                     std::memcpy(ob + c * 64 + ri * 4, blk + 6 + 4 * c, 4);
                   // byte k, bit n: the fifth bit of value q5_0_r16_value(n, k)
                   store_le32(ob + kQ5_0R16Qh + ri * 4, q5_0_r16_qh(load_le<uint32_t>(blk + 2)));
                 });
}

void interleave_q8_0_rows(const WeightMatrix& w, int64_t r0, int64_t r1, uint8_t* dst) {
  const size_t qoff = q8_0_r16_quants_offset(w.cols);
  for_each_block(w, r0, r1, dst, 32, kBlockBytes,
                 [qoff](const uint8_t* blk, uint8_t* out, int64_t b, int ri) {
                   if (b == 0 && ri == 0) std::memset(out, 0, qoff);  // the scales' padding
                   std::memcpy(out + (b * kRows + ri) * 2, blk, 2);
                   uint8_t* q = out + qoff + quant_index(b, ri, 0);
                   for (int c = 0; c < 8; ++c)  // values 4c..4c+3, each + 128
                     store_le32(q + c * 64, load_le<uint32_t>(blk + 2 + 4 * c) ^ 0x80808080u);
                 });
}

void dequantize_q8_0_r16_row(const WeightMatrix& w, int64_t r, float* out) {
  const int64_t nb = w.cols / 32;
  const uint8_t* group = w.row(r / kRows * kRows);
  const uint8_t* quants = group + q8_0_r16_quants_offset(w.cols);
  const int ri = static_cast<int>(r % kRows);
  for (int64_t b = 0; b < nb; ++b) {
    const float d = f16_to_f32(load_le<uint16_t>(group + (b * kRows + ri) * 2));
    for (int i = 0; i < 32; ++i)
      out[b * 32 + i] =
          d * static_cast<float>(static_cast<int8_t>(quants[quant_index(b, ri, i)] ^ 0x80));
  }
}

// The same float operations as format/'s dequantize_q4_k and dequantize_q5_k: d sc_j q - dmin mn_j.
template <bool kFive>
void dequantize_q4_or_5_k_r16_row(const WeightMatrix& w, int64_t r, float* out) {
  const uint8_t* group = w.row(r / kRows * kRows);
  const int ri = static_cast<int>(r % kRows);
  for (int64_t b = 0; b < w.cols / 256; ++b) {
    const uint8_t* sb =
        group + static_cast<size_t>(b) * (kFive ? kQ5KR16SuperBytes : kQ4KR16SuperBytes);
    const float d = f16_to_f32(load_le<uint16_t>(sb + ri * 2));
    const float dmin = f16_to_f32(load_le<uint16_t>(sb + kQ4KR16Dmin + ri * 2));
    for (int j = 0; j < 8; ++j) {
      const float dl = d * static_cast<float>(sb[kQ4KR16Sc + j * 16 + ri]);
      const float ml = dmin * static_cast<float>(sb[kQ4KR16Mn + (j / 2) * 32 + ri * 2 + j % 2]);
      for (int l = 0; l < 32; ++l) {
        const uint8_t byte = sb[kQ4KR16Qs + j * 256 + ((l % 16) / 4) * 64 + ri * 4 + l % 4];
        int q = l < 16 ? byte & 0x0F : byte >> 4;
        if constexpr (kFive) {
          const int n = 2 * ((l % 16) / 4) + l / 16;  // the nibble vector holding value l
          q |= ((sb[kQ5KR16Qh + j * 64 + ri * 4 + l % 4] >> n) & 1) << 4;
        }
        out[b * 256 + 32 * j + l] = dl * static_cast<float>(q) - ml;
      }
    }
  }
}

// The same float operations as format/'s dequantize_q6_k: d sc_k (q - 32).
void dequantize_q6_k_r16_row(const WeightMatrix& w, int64_t r, float* out) {
  const uint8_t* group = w.row(r / kRows * kRows);
  const int ri = static_cast<int>(r % kRows);
  for (int64_t b = 0; b < w.cols / 256; ++b) {
    const uint8_t* sb = group + static_cast<size_t>(b) * kQ6KR16SuperBytes;
    const float d = f16_to_f32(load_le<uint16_t>(sb + kQ6KR16D + ri * 2));
    for (int j = 0; j < 8; ++j)
      for (int n = 0; n < 8; ++n)
        for (int k = 0; k < 4; ++k) {
          const uint8_t lo = sb[j * 256 + (n / 2) * 64 + ri * 4 + k];
          const uint8_t hi = sb[kQ6KR16Qh + j * 128 + (n / 4) * 64 + ri * 4 + k];
          const int q = ((n % 2 ? lo >> 4 : lo & 0xF) | (((hi >> (2 * (n % 4))) & 3) << 4)) - 32;
          const int v = q6_k_r16_value(j, n, k);
          const auto sc = static_cast<int8_t>(sb[kQ6KR16Sc + (v / 16) * 16 + ri]);
          out[b * 256 + v] = d * static_cast<float>(sc) * static_cast<float>(q);
        }
  }
}

// The same float operations as format/'s dequantize_q5_0: d (q - 16).
void dequantize_q5_0_r16_row(const WeightMatrix& w, int64_t r, float* out) {
  const uint8_t* group = w.row(r / kRows * kRows);
  const size_t qoff = q8_0_r16_quants_offset(w.cols);
  const int ri = static_cast<int>(r % kRows);
  for (int64_t b = 0; b < w.cols / 32; ++b) {
    const float d = f16_to_f32(load_le<uint16_t>(group + (b * kRows + ri) * 2));
    const uint8_t* ob = group + qoff + static_cast<size_t>(b) * kQ5_0R16BlockBytes;
    for (int n = 0; n < 8; ++n)
      for (int k = 0; k < 4; ++k) {
        const uint8_t lo = ob[(n / 2) * 64 + ri * 4 + k];
        const int q =
            (n % 2 ? lo >> 4 : lo & 0xF) | (((ob[kQ5_0R16Qh + ri * 4 + k] >> n) & 1) << 4);
        out[b * 32 + q5_0_r16_value(n, k)] = d * static_cast<float>(q - 16);
      }
  }
}

constexpr R16Layout kLayouts[] = {
    {GgmlType::Q8_0, 32, kern::ActFormat::Q8_0, &kern::KernelTable::q8_0_r16, q8_0_r16_group_bytes,
     interleave_q8_0_rows, dequantize_q8_0_r16_row},
    {GgmlType::Q5_0, 32, kern::ActFormat::Q8_0, &kern::KernelTable::q5_0_r16, q5_0_r16_group_bytes,
     interleave_q5_0_rows, dequantize_q5_0_r16_row},
    {GgmlType::Q4_K, 256, kern::ActFormat::Q8_K, &kern::KernelTable::q4_k_r16,
     super_block_group_bytes<kQ4KR16SuperBytes>, interleave_q4_or_5_k_rows<false>,
     dequantize_q4_or_5_k_r16_row<false>},
    {GgmlType::Q5_K, 256, kern::ActFormat::Q8_K, &kern::KernelTable::q5_k_r16,
     super_block_group_bytes<kQ5KR16SuperBytes>, interleave_q4_or_5_k_rows<true>,
     dequantize_q4_or_5_k_r16_row<true>},
    {GgmlType::Q6_K, 256, kern::ActFormat::Q8_K, &kern::KernelTable::q6_k_r16,
     super_block_group_bytes<kQ6KR16SuperBytes>, interleave_q6_k_rows, dequantize_q6_k_r16_row},
};

}  // namespace

const R16Layout* find_r16_layout(GgmlType t) {
  for (const R16Layout& l : kLayouts)
    if (l.type == t) return &l;
  return nullptr;
}

bool interleave_pays(const WeightMatrix& w) {
  const R16Layout* l = find_r16_layout(w.type);
  return l != nullptr && fits(w, *l) && kern::active_kernel_table().*(l->gemm) != nullptr;
}

size_t interleaved_bytes(const WeightMatrix& w) {
  return static_cast<size_t>(w.rows / kRows) * group_bytes(w);
}

void interleave_rows(const WeightMatrix& w, int64_t r0, int64_t r1, uint8_t* dst) {
  const R16Layout* l = find_r16_layout(w.type);
  FRUGAL_CHECK(l != nullptr && fits(w, *l) && r0 % kRows == 0 && r1 % kRows == 0,
               "interleave_rows: expects a plain view of a type with an r16 layout (Q8_0, Q5_0, "
               "Q4_K, Q5_K, Q6_K) and 16-aligned rows");
  l->pack(w, r0, r1, dst);
}

WeightMatrix interleaved_view(const WeightMatrix& w, const uint8_t* dst) {
  WeightMatrix v = w;
  v.data = dst;
  v.row_stride = group_bytes(w) / kRows;
  v.interleave = kRows;
  return v;
}

void dequantize_interleaved_row(const WeightMatrix& w, int64_t r, float* out) {
  const R16Layout* l = find_r16_layout(w.type);
  FRUGAL_CHECK(w.interleave == kRows && l != nullptr, "weight_row: unknown interleaved layout");
  l->dequantize_row(w, r, out);
}

}  // namespace frugal
