#include "sus/backoff.hpp"

#include <utility>

namespace sus {

Backoff::Backoff(uint32_t base_ms, uint32_t max_ms, std::function<uint32_t()> random)
    : base_ms_(base_ms ? base_ms : 1), max_ms_(max_ms < base_ms ? base_ms : max_ms), random_(std::move(random)) {}

uint32_t Backoff::next_delay_ms() {
  uint64_t ceiling = base_ms_;
  for (uint32_t i = 0; i < attempt_ && ceiling < max_ms_; ++i) ceiling *= 2;
  if (ceiling > max_ms_) ceiling = max_ms_;
  if (attempt_ < 32) ++attempt_;
  uint64_t half = ceiling / 2;
  uint64_t span = ceiling - half + 1;
  return static_cast<uint32_t>(half + (random_ ? random_() % span : 0));
}

}  // namespace sus
