// Reconnect backoff with jitter: exponential growth up to a cap, and a random delay within [cap/2, cap] so a street
// full of devices that lost the broker at the same moment does not reconnect in lockstep.
#pragma once

#include <cstdint>
#include <functional>

namespace sus {

class Backoff {
 public:
  /** `random` returns uniformly distributed 32-bit values (esp_random() on the ESP32). */
  Backoff(uint32_t base_ms, uint32_t max_ms, std::function<uint32_t()> random);

  /** Delay before the next attempt; each call doubles the ceiling until max_ms. */
  uint32_t next_delay_ms();
  /** After a successful connect. */
  void reset() { attempt_ = 0; }
  uint32_t attempts() const { return attempt_; }

 private:
  uint32_t base_ms_;
  uint32_t max_ms_;
  uint32_t attempt_ = 0;
  std::function<uint32_t()> random_;
};

}  // namespace sus
