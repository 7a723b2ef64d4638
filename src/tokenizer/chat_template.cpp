#include "tokenizer/chat_template.h"

#include <array>

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

// System messages joined by "\n\n" (V3, R1, V3.1), or only the last one (R1-Distill).
std::string system_prompt(std::span<const ChatMessage> messages, bool last_only) {
  std::string out;
  bool first = true;
  for (const ChatMessage& m : messages) {
    if (m.role != "system") continue;
    if (last_only) {
      out = m.content;
    } else {
      if (!first) out += "\n\n";
      out += m.content;
    }
    first = false;
  }
  return out;
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
std::string render_v3_family(ChatFormat f, std::span<const ChatMessage> messages,
                             const ChatOptions& opts) {
  const bool r1 = f != ChatFormat::DeepSeekV3;
  std::string out = opts.bos_token;
  out += system_prompt(messages, f == ChatFormat::DeepSeekR1Distill);
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      out.append(kUser).append(m.content);
    } else if (m.role == "assistant") {
      out.append(kAssistant);
      out.append(r1 ? after_last_think(m.content) : std::string_view(m.content));
      out.append(kEndOfSentence);
    } else if (m.role != "system") {
      unsupported_role(f, m);
    }
  }
  if (opts.add_generation_prompt) {
    out.append(kAssistant);
    if (r1) out.append(kThinkOpen).append("\n");
  }
  return out;
}

// V3.1: an assistant turn right after a user turn opens with <｜Assistant｜></think> (or <think>
// for a thinking-mode prefix); history keeps only the text after the first </think>.
std::string render_v31(std::span<const ChatMessage> messages, const ChatOptions& opts) {
  std::string out = opts.bos_token + system_prompt(messages, false);
  bool last_user = false;
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      last_user = true;
      out.append(kUser).append(m.content);
    } else if (m.role == "assistant") {
      if (last_user) {
        out.append(kAssistant).append(m.prefix && opts.thinking ? kThinkOpen : kThinkClose);
      }
      last_user = false;
      out.append(after_first_think(m.content)).append(kEndOfSentence);
    } else if (m.role != "system") {
      unsupported_role(ChatFormat::DeepSeekV31, m);
    }
  }
  if (opts.add_generation_prompt && last_user) {
    out.append(kAssistant).append(opts.thinking ? kThinkOpen : kThinkClose);
  }
  return out;
}

// V2: messages in order, system text and user turns followed by a blank line.
std::string render_v2(std::span<const ChatMessage> messages, const ChatOptions& opts) {
  std::string out = opts.bos_token;
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      out.append("User: ").append(m.content).append("\n\n");
    } else if (m.role == "assistant") {
      out.append("Assistant: ").append(m.content).append(opts.eos_token);
    } else if (m.role == "system") {
      out.append(m.content).append("\n\n");
    } else {
      unsupported_role(ChatFormat::DeepSeekV2, m);
    }
  }
  if (opts.add_generation_prompt) out.append("Assistant:");
  return out;
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

std::string render_chat(ChatFormat format, std::span<const ChatMessage> messages,
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
  throw InternalError("render_chat: unhandled chat format");
}

}  // namespace frugal
