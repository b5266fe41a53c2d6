// Time sync rules: no reading leaves with a bogus 1970 timestamp. The device counts monotonic ms from boot; once
// SNTP (or the host clock) gives a plausible epoch time, every reading — also those taken before the sync — gets
// its true time from the offset. Until then readings are held back, never sent with a guessed time.
#pragma once

#include <cstdint>

namespace sus {

/** 2024-01-01T00:00:00Z: anything earlier is an unset RTC, not a real time. */
constexpr int64_t kMinPlausibleEpochMs = 1704067200000LL;
/** 2100-01-01T00:00:00Z: anything later is a corrupt clock. */
constexpr int64_t kMaxPlausibleEpochMs = 4102444800000LL;

inline bool plausible_epoch_ms(int64_t ms) { return ms >= kMinPlausibleEpochMs && ms < kMaxPlausibleEpochMs; }

class TimeSync {
 public:
  /** A time source reported `epoch_ms` at monotonic `mono_ms`; ignored (returns false) when implausible. */
  bool on_sync(int64_t epoch_ms, int64_t mono_ms);
  bool synced() const { return synced_; }
  /** Epoch ms for a monotonic instant; 0 while not synced. */
  int64_t epoch_at(int64_t mono_ms) const { return synced_ ? mono_ms + offset_ms_ : 0; }

 private:
  bool synced_ = false;
  int64_t offset_ms_ = 0;
};

}  // namespace sus
