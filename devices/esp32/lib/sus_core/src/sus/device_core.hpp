// The firmware's behaviour, independent of the board: sample on the reporting interval, publish when connected,
// keep everything in the offline ring buffer until the broker acknowledged it, flush the backlog as batches after
// a reconnect, follow desired config and ack it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sus/bundle.hpp"
#include "sus/desired_config.hpp"
#include "sus/platform.hpp"
#include "sus/reading.hpp"
#include "sus/ring_buffer.hpp"
#include "sus/time_sync.hpp"

namespace sus {

struct CoreOptions {
  std::size_t buffer_capacity = 512;  // readings kept while offline (oldest dropped beyond)
  std::size_t batch_max = 50;         // readings per batch message (keeps a message well under the payload limit)
  uint32_t first_seq = 1;
};

struct CoreStats {
  uint64_t taken = 0;
  uint64_t published = 0;  // readings acknowledged by the broker
  uint64_t batches = 0;    // batch messages acknowledged
  uint64_t dropped = 0;    // readings lost to a full buffer, or counted in by count_dropped
  uint64_t configs = 0;    // desired configs applied
};

/** The backlog as it is kept through a deep sleep or a reboot (see DeviceCore::export_backlog). */
struct BacklogExport {
  std::string batch;         // JSON batch of the newest readings that fit, oldest first: what import_backlog reads
  std::size_t kept = 0;      // readings in `batch`
  std::size_t left_out = 0;  // readings of the buffer not in `batch` (no room, or no known time yet)
  /** Lost readings no kept reading reports (none was kept): keep the count and give it back to count_dropped. */
  uint32_t dropped = 0;
};

class DeviceCore {
 public:
  DeviceCore(const Bundle& bundle, Transport& transport, std::vector<Sensor*> sensors, KeyValueStore* store,
             TimeSync& time, CoreOptions options = {});

  /** Restores the last applied config from the store (call once at boot). */
  void restore();
  /** Call often (every ~100 ms): takes a reading when due, then sends what is pending. */
  void loop(int64_t mono_ms);
  /** Takes a reading now regardless of the schedule. */
  void take_reading(int64_t mono_ms);
  /** Local override (a technician's flag), same bounds as the desired config; false when out of range. */
  bool set_interval_s(uint32_t s);
  /** Called with every reading taken (the host binary logs them; tests see the original timestamps). */
  void on_reading(std::function<void(const Reading&)> observer) { observer_ = std::move(observer); }

  /** Transport events. */
  void on_connected();
  void on_disconnected();
  void on_puback(int mid);
  void on_message(const std::string& topic, const std::string& payload);

  /**
   * The unacknowledged backlog as a batch (JSON) of at most `max_bytes`, to keep it through a deep sleep or a
   * reboot: the newest readings that fit. Readings whose time is still unknown are left out too (their monotonic
   * clock does not survive the restart, so no true time could be given to them afterwards). Every reading left out
   * is counted in the `dropped` of the oldest one kept, or in the export's `dropped` when none is.
   */
  BacklogExport export_backlog(std::size_t max_bytes = SIZE_MAX) const;
  /** Puts an exported backlog back in front of anything taken since boot; false when it is not a valid batch. */
  bool import_backlog(const std::string& batch);
  /** Readings lost outside the buffer (a count kept beside an exported backlog): reported with the next reading. */
  void count_dropped(uint32_t n);
  uint32_t next_seq() const { return next_seq_; }

  const DeviceConfig& config() const { return config_; }
  const CoreStats& stats() const { return stats_; }
  std::size_t backlog() const { return buffer_.size(); }
  const std::vector<std::string>& subscriptions() const { return subscriptions_; }

 private:
  void pump();
  /** Appends to the buffer; when it is full the oldest reading makes room and `r` reports it. */
  void keep(Reading r);

  Bundle bundle_;
  Transport& transport_;
  std::vector<Sensor*> sensors_;
  KeyValueStore* store_;
  TimeSync& time_;
  CoreOptions options_;
  DeviceConfig config_;
  RingBuffer<Reading> buffer_;
  CoreStats stats_;
  std::vector<std::string> subscriptions_;
  uint32_t next_seq_;
  uint32_t pending_dropped_ = 0;  // lost readings the next reading taken reports
  int64_t next_sample_ms_ = -1;
  std::function<void(const Reading&)> observer_;
  // Stop-and-wait: one message in flight at a time, so the buffer's front is exactly what is unacknowledged.
  int inflight_mid_ = -1;
  std::size_t inflight_count_ = 0;
};

}  // namespace sus
