#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pre_tokenizer.h"

#include <pcre2.h>

#include <string>

#include "core/error.h"

namespace frugal {

namespace {

// Unicode White_Space: TAB..CR, NEL, and the separators (Zs, Zl, Zp).
constexpr std::string_view kSpaceSet = R"(\t-\r\x{85}\p{Z})";

std::string pcre2_error_text(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

// One match data (a single ovector pair) per thread, shared by all patterns.
pcre2_match_data* thread_match_data() {
  struct Holder {
    pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(md); }
  };
  thread_local Holder holder;
  return holder.md;
}

}  // namespace

std::string to_pcre2_pattern(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 32);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[++i];
      if (e == 's') {
        out += in_class ? std::string(kSpaceSet) : "[" + std::string(kSpaceSet) + "]";
      } else if (e == 'S' && !in_class) {
        out += "[^" + std::string(kSpaceSet) + "]";
      } else if (e == 'S') {
        throw Error("tokenizer: pre-tokenizer regex uses \\S inside a character class: " +
                    std::string(p));
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

struct PreTokenizer::Step {
  pcre2_code* code = nullptr;
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  ~Step() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(const PreTokenizerSpec& spec) {
  for (const PreTokenizerSplit& s : spec.splits) {
    const std::string pattern = to_pcre2_pattern(s.regex);
    int err = 0;
    PCRE2_SIZE err_off = 0;
    auto step = std::make_unique<Step>();
    step->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                               PCRE2_UTF | PCRE2_UCP, &err, &err_off, nullptr);
    if (!step->code) {
      throw Error("tokenizer: cannot compile pre-tokenizer regex '" + s.regex + "' at offset " +
                  std::to_string(err_off) + ": " + pcre2_error_text(err));
    }
    const int jit = pcre2_jit_compile(step->code, PCRE2_JIT_COMPLETE);
    if (jit != 0) {
      throw Error("tokenizer: PCRE2 JIT failed for '" + s.regex + "': " + pcre2_error_text(jit));
    }
    step->behavior = s.behavior;
    step->invert = s.invert;
    steps_.push_back(std::move(step));
  }
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

namespace {

struct Segment {
  uint32_t begin, end;
  bool is_match;
};

// Fills `segs` with the regex matches in one piece and the gaps between them, as HF's Split
// sees them (invert swaps which are matches). Offsets are relative to the piece.
void find_segments(const pcre2_code* code, bool invert, const char* subject_bytes, size_t n,
                   std::vector<Segment>& segs) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(subject_bytes);
  pcre2_match_data* md = thread_match_data();
  segs.clear();
  size_t pos = 0, prev = 0;
  while (pos <= n) {
    const int rc = pcre2_jit_match(code, subject, n, pos, 0, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw Error("tokenizer: regex match failed: " + pcre2_error_text(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    if (prev != b) segs.push_back({uint32_t(prev), uint32_t(b), invert});
    segs.push_back({uint32_t(b), uint32_t(e), !invert});
    prev = e;
    pos = e;
    if (b == e) {  // empty match: step over one character
      if (pos >= n) break;
      ++pos;
      while (pos < n && (subject[pos] & 0xC0) == 0x80) ++pos;
    }
  }
  if (prev != n) segs.push_back({uint32_t(prev), uint32_t(n), invert});
}

// Joins segments per the behaviour, in place: Contiguous joins runs of matches,
// MergedWithPrevious a match onto the segment before it, MergedWithNext onto the one after it.
void merge_segments(SplitBehavior behavior, std::vector<Segment>& segs) {
  if (behavior == SplitBehavior::Isolated || behavior == SplitBehavior::Removed) return;
  size_t n_out = 0;
  bool prev_match = false;
  for (size_t i = 0; i < segs.size(); ++i) {
    const Segment s = segs[i];
    bool join = false;
    if (behavior == SplitBehavior::Contiguous) join = s.is_match && prev_match;
    if (behavior == SplitBehavior::MergedWithPrevious) join = s.is_match && !prev_match;
    if (behavior == SplitBehavior::MergedWithNext) join = !s.is_match && prev_match;
    if (join && n_out > 0) {
      segs[n_out - 1].end = s.end;
      // A gap absorbed by the match before it ends that merge.
      prev_match = behavior == SplitBehavior::MergedWithNext ? false : s.is_match;
    } else {
      segs[n_out++] = s;
      prev_match = s.is_match;
    }
  }
  segs.resize(n_out);
}

// Appends the non-empty pieces one Split step makes of `piece` to `out`.
void split_piece(const pcre2_code* code, SplitBehavior behavior, bool invert, std::string_view text,
                 Piece piece, std::vector<Segment>& segs, std::vector<Piece>& out) {
  find_segments(code, invert, text.data() + piece.offset, piece.size, segs);
  merge_segments(behavior, segs);
  for (const Segment& s : segs) {
    if (behavior == SplitBehavior::Removed && s.is_match) continue;
    if (s.end > s.begin) out.push_back({piece.offset + s.begin, s.end - s.begin});
  }
}

}  // namespace

void PreTokenizer::split(std::string_view text, std::vector<Piece>& out) const {
  out.clear();
  if (text.empty()) return;
  out.push_back({0, static_cast<uint32_t>(text.size())});
  thread_local std::vector<Piece> next;
  thread_local std::vector<Segment> segs;
  for (const auto& step : steps_) {
    next.clear();
    next.reserve(out.size() * 2);
    for (const Piece& p : out) {
      split_piece(step->code, step->behavior, step->invert, text, p, segs, next);
    }
    out.swap(next);
  }
}

}  // namespace frugal
