#include "sus/time_sync.hpp"

namespace sus {

bool TimeSync::on_sync(int64_t epoch_ms, int64_t mono_ms) {
  if (!plausible_epoch_ms(epoch_ms)) return false;
  offset_ms_ = epoch_ms - mono_ms;
  synced_ = true;
  return true;
}

}  // namespace sus
