// Draining a scheduler stream in the runtime tests: every token and its text until Finished.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "runtime/scheduler.h"

namespace frugal::test {

struct Outcome {
  std::vector<int32_t> tokens;
  std::string text;
  SequenceEvent done;
};

// Waits up to `seconds` for the sequence to finish (a test failure otherwise).
inline Outcome collect(SequenceStream& s, int seconds = 60) {
  Outcome o;
  std::vector<SequenceEvent> events;
  for (int i = 0; i < 10 * seconds; ++i) {
    if (!s.wait(events, std::chrono::milliseconds(100))) continue;
    for (auto& ev : events) {
      if (ev.kind == SequenceEvent::Kind::Finished) {
        o.done = ev;
        return o;
      }
      if (ev.token >= 0) o.tokens.push_back(ev.token);
      o.text += ev.text;
    }
  }
  ADD_FAILURE() << "the sequence did not finish in " << seconds << " s";
  return o;
}

}  // namespace frugal::test
