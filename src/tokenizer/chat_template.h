// Chat prompt rendering for the DeepSeek families, in C++ (no Jinja engine). Each renderer
// reproduces its model's published Jinja template for system/user/assistant messages; goldens
// rendered by python3-jinja2 (tools/gen-chat-goldens.py) are the test oracle.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace frugal {

class Tokenizer;

enum class ChatFormat {
  DeepSeekV3,         // V3 / V3-0324: systems joined by "\n\n", prompt "<｜Assistant｜>"
  DeepSeekR1,         // R1 / R1-0528: as V3, old reasoning dropped, prompt "...<think>\n"
  DeepSeekR1Distill,  // R1-Distill-Qwen / -Llama: as R1 but only the last system message
  DeepSeekV31,        // V3.1 / V3.1-Terminus: thinking switch, "</think>" after each Assistant
  DeepSeekV2,         // V2 / V2-Lite-Chat: "User: ...\n\nAssistant: ..." plain-text turns
};

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
  bool prefix = false;  // V3.1: the assistant message the model continues (opens <think>)
};

struct ChatOptions {
  bool add_generation_prompt = true;
  bool thinking = false;  // V3.1 only: start the answer in thinking mode
  std::string bos_token;  // text of BOS / EOS as the template's bos_token / eos_token
  std::string eos_token;
};

// The format whose published template `jinja` is, recognised by distinctive substrings; nullopt
// when none matches.
std::optional<ChatFormat> detect_chat_format(std::string_view jinja);
// Names: deepseek-v3, deepseek-r1, deepseek-r1-distill (aliases deepseek-r1-distill-qwen,
// deepseek-r1-distill-llama), deepseek-v3.1, deepseek-v2 (alias deepseek-v2-chat).
// Throws frugal::Error listing the names for anything else.
ChatFormat chat_format_by_name(std::string_view name);
const char* chat_format_name(ChatFormat format);
// The format for a tokenizer: `override_name` when non-empty, else detected from its
// chat_template; throws frugal::Error when neither gives one.
ChatFormat chat_format_for(const Tokenizer& tok, std::string_view override_name = "");
// bos/eos token text from the tokenizer.
ChatOptions chat_options_for(const Tokenizer& tok);

// A piece of a rendered prompt: the template's own markup (special tokens written as text,
// "User: " in V2), or text from a message, which must never become a special token.
struct ChatSegment {
  std::string text;
  bool is_content = false;
};

// Renders the prompt as segments, alternating markup and content (adjacent pieces of one kind
// are merged; none is empty). Throws frugal::Error for roles the format does not support.
std::vector<ChatSegment> render_chat_segments(ChatFormat format,
                                              std::span<const ChatMessage> messages,
                                              const ChatOptions& opts);
// The segments' text joined: the prompt as the Jinja template renders it.
std::string render_chat(ChatFormat format, std::span<const ChatMessage> messages,
                        const ChatOptions& opts);
std::string join_chat_segments(std::span<const ChatSegment> segments);

// The prompt's token ids, without an added BOS (the template writes bos_token itself). Special
// tokens are matched in markup only: a user who types "<｜Assistant｜>" gets plain-text ids.
// Plain text is encoded across segment boundaries as one run (Tokenizer::encode_parts), so for
// content without special-token text the ids equal those of the joined text encoded with
// parse_special, in every format (V2's plain "User: " markers included).
std::vector<int32_t> encode_chat(const Tokenizer& tok, std::span<const ChatSegment> segments);

}  // namespace frugal
