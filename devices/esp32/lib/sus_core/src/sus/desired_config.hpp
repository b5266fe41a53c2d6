// Desired config sent by the platform on `…/down/config`: {"version": n, "config": {"interval_s": n, "sensors": […]}}
// (or the settings at the top level with a `ref`). Every downlink is answered on `…/ack` so the platform knows
// what the device runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sus/json.hpp"

namespace sus {

constexpr uint32_t kMinIntervalS = 1;
constexpr uint32_t kMaxIntervalS = 86400;

struct DeviceConfig {
  uint32_t interval_s = 60;
  /** Sensor driver names or quantities to report; empty = everything the device has. */
  std::vector<std::string> sensors;

  bool enabled(const std::string& sensor, const std::string& quantity) const;
  Json to_json() const;
};

struct ConfigUpdate {
  bool ok = false;
  DeviceConfig config;  // the current config with the update applied (when ok)
  Json ref;             // echoed in the ack: `version`, `ref` or `id` of the downlink, null when absent
  std::string error;
};

/**
 * Applies a desired-config document to `current`. Absent members keep their value; an out-of-range interval or
 * a wrong type refuses the whole document (nothing half applied).
 */
ConfigUpdate apply_desired_config(const DeviceConfig& current, const std::string& payload);

/**
 * The ack for a downlink: {"ref":…,"ok":…} plus what the platform's ack store reads — `config: <version>` or
 * `command: <id>` (when `ref` is a positive integer) and `status` (`applied` / `rejected`) — and then the applied
 * config or the error. `kind` is "config" or "command".
 */
std::string encode_ack(const char* kind, const Json& ref, bool ok, const DeviceConfig* applied,
                       const std::string& error);

}  // namespace sus
