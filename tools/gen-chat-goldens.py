#!/usr/bin/python3
"""Renders the real Jinja chat templates into golden files for the C++ renderers.

Run with Debian's python3 (python3-jinja2): /usr/bin/python3 tools/gen-chat-goldens.py
Writes tests/tokenizer/data/chat_goldens.json. Templates: DeepSeek-V3 from
../shared/data/tokenizer/deepseek-v3/tokenizer_config.json, the others from
tools/chat_templates/*.jinja (each names its source in a first-line comment, dropped here).
The environment mirrors transformers' apply_chat_template: trim_blocks, lstrip_blocks, sandboxed.
"""
import json
import pathlib
import sys

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "tokenizer"
OUT = ROOT / "tests" / "tokenizer" / "data" / "chat_goldens.json"

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"


def load_templates():
    templates = {}
    cfg = json.loads((SHARED / "deepseek-v3" / "tokenizer_config.json").read_text("utf-8"))
    templates["deepseek-v3"] = cfg["chat_template"]
    for path in sorted((ROOT / "tools" / "chat_templates").glob("*.jinja")):
        text = path.read_text("utf-8")
        if text.startswith("{#"):
            text = text[text.index("#}") + 2:].lstrip("\n")
        templates[path.stem] = text.rstrip("\n")
    return templates


def raise_exception(message):
    raise TemplateError(message)


def render(template, messages, add_generation_prompt, thinking):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    variables = dict(messages=messages, add_generation_prompt=add_generation_prompt,
                     bos_token=BOS, eos_token=EOS)
    if thinking is not None:
        variables["thinking"] = thinking
    return env.from_string(template).render(**variables)


def sys_(c):
    return {"role": "system", "content": c}


def user(c):
    return {"role": "user", "content": c}


def asst(c, prefix=None):
    m = {"role": "assistant", "content": c}
    if prefix is not None:
        m["prefix"] = prefix
    return m


REASONED = "<think>\nThe user greets me.\n</think>\n\nHello! How can I help?"
TWO_THINKS = "<think>a</think>middle</think>\n\nfinal answer"

# (name, messages, add_generation_prompt, thinking)
CASES = [
    ("user_only", [user("Hello")], True, None),
    ("user_only_no_prompt", [user("Hello")], False, None),
    ("system_user", [sys_("You are a helpful assistant."), user("What is 2+2?")], True, None),
    ("two_systems", [sys_("Rule one."), sys_("Rule two."), user("Go.")], True, None),
    ("multi_turn", [sys_("Be brief."), user("Hi"), asst("Hello!"), user("Name a prime.")], True,
     None),
    ("multi_turn_no_prompt", [user("Hi"), asst("Hello!")], False, None),
    ("reasoning_history", [user("Hi"), asst(REASONED), user("And now?")], True, None),
    ("two_think_tags", [user("Q"), asst(TWO_THINKS), user("Q2")], True, None),
    ("unicode_and_markers", [sys_("系统：简洁。"), user("こんにちは 😀 <｜User｜> \n\n tabs\t")],
     True, None),
    ("empty_contents", [sys_(""), user(""), asst(""), user("")], True, None),
    ("assistant_first", [asst("I start."), user("ok")], True, None),
    ("consecutive_assistants", [user("u"), asst("a1"), asst("a2")], True, None),
    ("thinking_on", [sys_("S"), user("Solve x+1=2.")], True, True),
    ("thinking_off", [user("Solve x+1=2."), asst(REASONED), user("Again")], True, False),
    ("thinking_prefix", [user("Solve"), asst("<think>Let me", prefix=True)], False, True),
]


def main():
    templates = load_templates()
    cases = []
    for tname, ttext in templates.items():
        for name, messages, gen, thinking in CASES:
            cases.append({
                "template": tname, "case": name, "messages": messages,
                "add_generation_prompt": gen, "thinking": thinking,
                "bos_token": BOS, "eos_token": EOS,
                "expected": render(ttext, messages, gen, thinking),
            })
    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc = {"generator": "tools/gen-chat-goldens.py (python3-jinja2, trim_blocks+lstrip_blocks)",
           "templates": templates, "cases": cases}
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"wrote {len(cases)} cases for {len(templates)} templates to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
