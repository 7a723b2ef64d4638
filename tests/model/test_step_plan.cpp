// The cutting of a multi-sequence step into chunks (model/step_plan.h), on hand-worked cases.
#include <gtest/gtest.h>

#include <vector>

#include "model/step_plan.h"

namespace frugal {
namespace {

struct Seq {
  Batch batch;
};

struct Chunk {
  std::vector<int32_t> tokens, pos, out_rows;
  std::vector<std::vector<int64_t>> segs;  // {seq, row0, n}
  int64_t out_first;
};

std::vector<Chunk> plan(const std::vector<Seq>& seqs, int64_t max_batch) {
  StepChunk c(max_batch);
  StepCursor cur;
  std::vector<Chunk> out;
  while (next_chunk(std::span<const Seq>(seqs), cur, c)) {
    Chunk k;
    k.tokens.assign(c.tokens.begin(), c.tokens.begin() + c.n_rows);
    k.pos.assign(c.pos.begin(), c.pos.begin() + c.n_rows);
    k.out_rows.assign(c.out_rows.begin(), c.out_rows.begin() + c.n_out);
    for (const SegmentRows& g : c.segments()) k.segs.push_back({g.seq, g.row0, g.n});
    k.out_first = c.out_first;
    out.push_back(k);
  }
  EXPECT_EQ(cur.seq, seqs.size());
  return out;
}

TEST(StepPlan, ChunksSegmentsAndLogitsRows) {
  // seq 0: 5 tokens at 10..14, all logits; seq 1: one decode at 7; seq 2: 3 tokens at 0..2, last.
  const std::vector<int32_t> t0 = {1, 2, 3, 4, 5}, p0 = {10, 11, 12, 13, 14};
  const std::vector<int32_t> t1 = {6}, p1 = {7}, t2 = {7, 8, 9}, p2 = {0, 1, 2};
  const std::vector<Seq> seqs = {
      {{t0, p0, LogitsMode::All}}, {{t1, p1, LogitsMode::Last}}, {{t2, p2, LogitsMode::Last}}};
  const auto chunks = plan(seqs, 4);
  ASSERT_EQ(chunks.size(), 3u);  // 9 rows in chunks of 4, 4, 1
  EXPECT_EQ(chunks[0].tokens, (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(chunks[0].segs, (std::vector<std::vector<int64_t>>{{0, 0, 4}}));
  EXPECT_EQ(chunks[0].out_rows, (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(chunks[0].out_first, 0);
  // seq 0's last token, seq 1's decode, the first two of seq 2 (no logits: not its last)
  EXPECT_EQ(chunks[1].tokens, (std::vector<int32_t>{5, 6, 7, 8}));
  EXPECT_EQ(chunks[1].pos, (std::vector<int32_t>{14, 7, 0, 1}));
  EXPECT_EQ(chunks[1].segs, (std::vector<std::vector<int64_t>>{{0, 0, 1}, {1, 1, 1}, {2, 2, 2}}));
  EXPECT_EQ(chunks[1].out_rows, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(chunks[1].out_first, 4);  // seq 0's fifth row, then seq 1's row 5
  EXPECT_EQ(chunks[2].tokens, (std::vector<int32_t>{9}));
  EXPECT_EQ(chunks[2].segs, (std::vector<std::vector<int64_t>>{{2, 0, 1}}));
  EXPECT_EQ(chunks[2].out_rows, (std::vector<int32_t>{0}));
  EXPECT_EQ(chunks[2].out_first, 6);  // 5 + 1 rows before it: the logits buffer holds 7
}

TEST(StepPlan, OneChunkHoldsManyDecodes) {
  std::vector<std::vector<int32_t>> tok(5), pos(5);
  std::vector<Seq> seqs;
  for (int i = 0; i < 5; ++i) {
    tok[i] = {100 + i};
    pos[i] = {3 * i};
    seqs.push_back({{tok[i], pos[i], LogitsMode::Last}});
  }
  const auto chunks = plan(seqs, 8);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].tokens, (std::vector<int32_t>{100, 101, 102, 103, 104}));
  EXPECT_EQ(chunks[0].pos, (std::vector<int32_t>{0, 3, 6, 9, 12}));
  EXPECT_EQ(chunks[0].out_rows, (std::vector<int32_t>{0, 1, 2, 3, 4}));
  ASSERT_EQ(chunks[0].segs.size(), 5u);
  EXPECT_EQ(chunks[0].segs[4], (std::vector<int64_t>{4, 4, 1}));
}

}  // namespace
}  // namespace frugal
