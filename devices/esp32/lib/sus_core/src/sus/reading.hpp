// The canonical reading message (DESIGN.md): {"time":ms,"seq":n,"values":{…}}; an array of them is a batch.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sus {

struct Reading {
  /** Epoch ms when taken; 0 while the clock was not synced (resolved later from `mono_ms`, see TimeSync). */
  int64_t time_ms = 0;
  /** Monotonic ms when taken: lets a reading taken before the first time sync get its true time afterwards. */
  int64_t mono_ms = 0;
  uint32_t seq = 0;
  std::vector<std::pair<std::string, double>> values;
  /**
   * Readings lost just before this one (a full buffer, a backlog that did not fit the store), sent with it as
   * `"dropped": n` so a loss is never silent; it travels with the reading until the broker acknowledged it.
   */
  uint32_t dropped = 0;
};

/** `a + b` without wrapping: a count that reached the top stays there. */
inline uint32_t add_dropped(uint32_t a, uint64_t b) {
  return b >= UINT32_MAX - a ? UINT32_MAX : static_cast<uint32_t>(a + b);
}

/**
 * One reading as canonical JSON. Non-finite values are left out (the platform refuses NaN); `time` only when set,
 * `dropped` only when not 0.
 */
std::string encode_reading(const Reading& r);

/** A batch (JSON array): the offline backlog goes out this way. */
std::string encode_batch(const std::vector<Reading>& readings);

}  // namespace sus

namespace sus {
/** Reads back what encode_batch wrote (a deep-sleeping device keeps its backlog in NVS this way). */
bool decode_batch(const std::string& json, std::vector<Reading>& out);
}  // namespace sus
