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
};

/** One reading as canonical JSON. Non-finite values are left out (the platform refuses NaN); `time` only when set. */
std::string encode_reading(const Reading& r);

/** A batch (JSON array): the offline backlog goes out this way. */
std::string encode_batch(const std::vector<Reading>& readings);

}  // namespace sus

namespace sus {
/** Reads back what encode_batch wrote (a deep-sleeping device keeps its backlog in NVS this way). */
bool decode_batch(const std::string& json, std::vector<Reading>& out);
}  // namespace sus
