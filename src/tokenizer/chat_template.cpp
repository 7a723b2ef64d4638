#include "tokenizer/chat_template.h"

#include <array>
#include <utility>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace frugal {

namespace {

constexpr std::string_view kUser = "<｜User｜>";
constexpr std::string_view kAssistant = "<｜Assistant｜>";
constexpr std::string_view kEndOfSentence = "<｜end▁of▁sentence｜>";
constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

struct NamedFormat {
  const char* name;
  ChatFormat format;
};
// The first name of each format is its canonical name.
constexpr std::array<NamedFormat, 8> kNames = {{
    {"deepseek-v3", ChatFormat::DeepSeekV3},
    {"deepseek-r1", ChatFormat::DeepSeekR1},
    {"deepseek-r1-distill", ChatFormat::DeepSeekR1Distill},
    {"deepseek-r1-distill-qwen", ChatFormat::DeepSeekR1Distill},
    {"deepseek-r1-distill-llama", ChatFormat::DeepSeekR1Distill},
    {"deepseek-v3.1", ChatFormat::DeepSeekV31},
    {"deepseek-v2", ChatFormat::DeepSeekV2},
    {"deepseek-v2-chat", ChatFormat::DeepSeekV2},
}};

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

[[noreturn]] void unsupported_role(ChatFormat f, const ChatMessage& m) {
  throw Error(std::string("chat template ") + chat_format_name(f) + ": message role '" + m.role +
              "' is not supported (expected system, user or assistant)");
}

// Collects a prompt as markup and content segments, merging neighbours of one kind.
class SegmentBuilder {
 public:
  SegmentBuilder& markup(std::string_view s) { return add(s, false); }
  SegmentBuilder& content(std::string_view s) { return add(s, true); }
  std::vector<ChatSegment> take() { return std::move(out_); }

 private:
  SegmentBuilder& add(std::string_view s, bool is_content) {
    if (s.empty()) return *this;
    if (!out_.empty() && out_.back().is_content == is_content) {
      out_.back().text += s;
    } else {
      out_.push_back({std::string(s), is_content});
    }
    return *this;
  }
  std::vector<ChatSegment> out_;
};

// System messages joined by "\n\n" (V3, R1, V3.1), or only the last one (R1-Distill).
void system_prompt(std::span<const ChatMessage> messages, bool last_only, SegmentBuilder& out) {
  const ChatMessage* last = nullptr;
  bool first = true;
  for (const ChatMessage& m : messages) {
    if (m.role != "system") continue;
    if (last_only) {
      last = &m;
      continue;
    }
    if (!first) out.markup("\n\n");
    out.content(m.content);
    first = false;
  }
  if (last != nullptr) out.content(last->content);
}

// Text after the last "</think>" (R1 templates: content.split('</think>')[-1]).
std::string_view after_last_think(std::string_view s) {
  const size_t pos = s.rfind(kThinkClose);
  return pos == std::string_view::npos ? s : s.substr(pos + kThinkClose.size());
}

// Text after the first "</think>" (V3.1: content.split('</think>', 1)[1]).
std::string_view after_first_think(std::string_view s) {
  const size_t pos = s.find(kThinkClose);
  return pos == std::string_view::npos ? s : s.substr(pos + kThinkClose.size());
}

// V3 / R1 / R1-Distill: BOS + system, then <｜User｜>u and <｜Assistant｜>a<｜end▁of▁sentence｜>.
std::vector<ChatSegment> render_v3_family(ChatFormat f, std::span<const ChatMessage> messages,
                                          const ChatOptions& opts) {
  const bool r1 = f != ChatFormat::DeepSeekV3;
  SegmentBuilder out;
  out.markup(opts.bos_token);
  system_prompt(messages, f == ChatFormat::DeepSeekR1Distill, out);
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      out.markup(kUser).content(m.content);
    } else if (m.role == "assistant") {
      out.markup(kAssistant);
      out.content(r1 ? after_last_think(m.content) : std::string_view(m.content));
      out.markup(kEndOfSentence);
    } else if (m.role != "system") {
      unsupported_role(f, m);
    }
  }
  if (opts.add_generation_prompt) {
    out.markup(kAssistant);
    if (r1) out.markup(kThinkOpen).markup("\n");
  }
  return out.take();
}

// V3.1: an assistant turn right after a user turn opens with <｜Assistant｜></think> (or <think>
// for a thinking-mode prefix); history keeps only the text after the first </think>.
std::vector<ChatSegment> render_v31(std::span<const ChatMessage> messages,
                                    const ChatOptions& opts) {
  SegmentBuilder out;
  out.markup(opts.bos_token);
  system_prompt(messages, false, out);
  bool last_user = false;
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      last_user = true;
      out.markup(kUser).content(m.content);
    } else if (m.role == "assistant") {
      if (last_user) {
        out.markup(kAssistant).markup(m.prefix && opts.thinking ? kThinkOpen : kThinkClose);
      }
      last_user = false;
      out.content(after_first_think(m.content)).markup(kEndOfSentence);
    } else if (m.role != "system") {
      unsupported_role(ChatFormat::DeepSeekV31, m);
    }
  }
  if (opts.add_generation_prompt && last_user) {
    out.markup(kAssistant).markup(opts.thinking ? kThinkOpen : kThinkClose);
  }
  return out.take();
}

// V2: messages in order, system text and user turns followed by a blank line.
std::vector<ChatSegment> render_v2(std::span<const ChatMessage> messages, const ChatOptions& opts) {
  SegmentBuilder out;
  out.markup(opts.bos_token);
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      out.markup("User: ").content(m.content).markup("\n\n");
    } else if (m.role == "assistant") {
      out.markup("Assistant: ").content(m.content).markup(opts.eos_token);
    } else if (m.role == "system") {
      out.content(m.content).markup("\n\n");
    } else {
      unsupported_role(ChatFormat::DeepSeekV2, m);
    }
  }
  if (opts.add_generation_prompt) out.markup("Assistant:");
  return out.take();
}

}  // namespace

std::optional<ChatFormat> detect_chat_format(std::string_view t) {
  if (contains(t, kUser) && contains(t, kAssistant)) {
    if (contains(t, "thinking") && contains(t, kThinkClose)) return ChatFormat::DeepSeekV31;
    if (contains(t, kThinkClose)) {
      // R1 (671B) joins system messages (is_first_sp); the distills keep the last one.
      return contains(t, "is_first_sp") ? ChatFormat::DeepSeekR1 : ChatFormat::DeepSeekR1Distill;
    }
    return ChatFormat::DeepSeekV3;
  }
  if (contains(t, "'User: '") && contains(t, "'Assistant:")) return ChatFormat::DeepSeekV2;
  return std::nullopt;
}

ChatFormat chat_format_by_name(std::string_view name) {
  for (const NamedFormat& n : kNames) {
    if (name == n.name) return n.format;
  }
  std::string known;
  for (const NamedFormat& n : kNames) known += std::string(known.empty() ? "" : ", ") + n.name;
  throw Error("unknown chat template '" + std::string(name) + "' (known: " + known + ")");
}

const char* chat_format_name(ChatFormat format) {
  for (const NamedFormat& n : kNames) {
    if (n.format == format) return n.name;
  }
  return "?";
}

ChatFormat chat_format_for(const Tokenizer& tok, std::string_view override_name) {
  if (!override_name.empty()) return chat_format_by_name(override_name);
  const std::string& t = tok.data().chat_template;
  if (t.empty()) throw Error("the model has no chat template; name one (e.g. deepseek-v3)");
  if (auto f = detect_chat_format(t)) return *f;
  throw Error(
      "the model's chat template is not one Frugal recognises; name one explicitly "
      "(deepseek-v3, deepseek-r1, deepseek-r1-distill, deepseek-v3.1, deepseek-v2)");
}

ChatOptions chat_options_for(const Tokenizer& tok) {
  ChatOptions o;
  if (tok.bos_id() >= 0) o.bos_token = tok.token_text(tok.bos_id());
  if (tok.eos_id() >= 0) o.eos_token = tok.token_text(tok.eos_id());
  return o;
}

std::vector<ChatSegment> render_chat_segments(ChatFormat format,
                                              std::span<const ChatMessage> messages,
                                              const ChatOptions& opts) {
  switch (format) {
    case ChatFormat::DeepSeekV3:
    case ChatFormat::DeepSeekR1:
    case ChatFormat::DeepSeekR1Distill:
      return render_v3_family(format, messages, opts);
    case ChatFormat::DeepSeekV31:
      return render_v31(messages, opts);
    case ChatFormat::DeepSeekV2:
      return render_v2(messages, opts);
  }
  throw InternalError("render_chat_segments: unhandled chat format");
}

std::string join_chat_segments(std::span<const ChatSegment> segments) {
  std::string out;
  for (const ChatSegment& s : segments) out += s.text;
  return out;
}

std::string render_chat(ChatFormat format, std::span<const ChatMessage> messages,
                        const ChatOptions& opts) {
  return join_chat_segments(render_chat_segments(format, messages, opts));
}

std::vector<int32_t> encode_chat(const Tokenizer& tok, std::span<const ChatSegment> segments) {
  std::vector<TextPart> parts;
  parts.reserve(segments.size());
  for (const ChatSegment& s : segments) parts.push_back({s.text, !s.is_content});
  return tok.encode_parts(parts);
}

}  // namespace frugal
