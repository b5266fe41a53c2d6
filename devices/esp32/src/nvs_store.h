// What the firmware keeps in NVS, and how much of it fits. arduino-esp32's partition tables give NVS 0x5000 bytes:
// five 4 KB pages. ESP-IDF 4.4's limits ("Non-volatile storage" in its documentation): a page holds 126 entries of
// 32 bytes and one page stays empty for reclaiming erased entries; a string takes a header entry plus its data with
// the terminator, at most 4000 bytes, on one page; a blob takes an index entry plus, on every page it spans, a
// chunk header and its data, at most 97.6% of the partition minus 4000 bytes. The provisioning bundle (a CA chain
// makes it several KB) and the deep-sleep backlog are blobs, budgeted from these numbers; the small settings are
// strings. test-host/arduino-stubs/nvs_model.* holds the same rules against the glue test.
#pragma once

#include <Preferences.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "sus/device_core.hpp"
#include "sus/platform.hpp"

namespace nvs {

constexpr std::size_t kPartitionBytes = 0x5000;
constexpr std::size_t kPages = kPartitionBytes / 4096;
constexpr std::size_t kEntryBytes = 32;
constexpr std::size_t kUsableEntries = (kPages - 1) * 126;  // 504
constexpr std::size_t kMaxStringBytes = 4000 - 1;
constexpr std::size_t kMaxBlobBytes = kPartitionBytes * 976 / 1000 - 4000;  // 15988
/** A blob's index entry and a chunk header on each data page it may span. */
constexpr std::size_t kBlobOverheadEntries = 1 + (kPages - 1);
/**
 * Entries left to everything but the bundle and the backlog: the namespace, the Wi-Fi credentials, the config,
 * seq, the count of lost readings, room to rewrite them, and the Wi-Fi driver's own keys (nvs.net80211).
 */
constexpr std::size_t kReservedEntries = 128;
/** A bundle with a CA chain of three or four PEM certificates (~2 KB each). */
constexpr std::size_t kBundleMaxBytes = 8192;

constexpr std::size_t blobEntries(std::size_t bytes) {
  return kBlobOverheadEntries + (bytes + kEntryBytes - 1) / kEntryBytes;
}

/** The largest backlog blob that fits beside a stored bundle of `bundleBytes` and the reserve. */
constexpr std::size_t backlogBudget(std::size_t bundleBytes) {
  const std::size_t used = kReservedEntries + blobEntries(bundleBytes) + kBlobOverheadEntries;
  return used >= kUsableEntries ? 0 : std::min(kMaxBlobBytes, (kUsableEntries - used) * kEntryBytes);
}

}  // namespace nvs

/** The `sus` namespace of NVS through arduino-esp32's Preferences. */
class NvsStore : public sus::KeyValueStore {
 public:
  bool begin() { return prefs_.begin("sus", false); }

  /** A string or a blob: the firmware before the blobs kept the bundle and the backlog as strings. */
  bool get(const std::string& key, std::string& value) override {
    switch (prefs_.getType(key.c_str())) {
      case PT_STR: value = prefs_.getString(key.c_str()).c_str(); return true;
      case PT_BLOB:
        value.resize(prefs_.getBytesLength(key.c_str()));
        return !value.empty() && prefs_.getBytes(key.c_str(), &value[0], value.size()) == value.size();
      default: return false;
    }
  }
  /** A small setting as a string; false when NVS refused it (too long, partition full). */
  bool set(const std::string& key, const std::string& value) override {
    return value.size() <= nvs::kMaxStringBytes && prefs_.putString(key.c_str(), value.c_str()) == value.size();
  }
  /** A large value as a blob; false when NVS refused it (over the blob limit, partition full). */
  bool setBlob(const std::string& key, const std::string& value) {
    // NVS keeps a key's type: a string left by older firmware has to go first.
    if (prefs_.getType(key.c_str()) == PT_STR && !prefs_.remove(key.c_str())) return false;
    return prefs_.putBytes(key.c_str(), value.data(), value.size()) == value.size();
  }
  /** True when the key is gone (or never was). */
  bool remove(const std::string& key) { return !prefs_.isKey(key.c_str()) || prefs_.remove(key.c_str()); }

 private:
  Preferences prefs_;
};

struct BacklogSave {
  std::size_t kept = 0, left_out = 0, bytes = 0;
  uint32_t dropped = 0;  // lost readings counted beside the backlog (none of them kept)
  bool stored = false;   // NVS holds exactly this backlog and count: nothing stale comes back on wake
};

/**
 * Writes the core's unacknowledged backlog to NVS before a deep sleep: the newest readings within `budget` bytes
 * as the `backlog` blob. In place first (NVS writes the new blob before it erases the old one, so a power cut keeps
 * one of them); when that finds no room, without the old one; then ever fewer readings. Every reading left out is
 * counted, in the oldest one kept or in the `dropped` key, and the device reports the count with its next message.
 */
inline BacklogSave saveBacklog(NvsStore& store, const sus::DeviceCore& core, std::size_t budget) {
  BacklogSave s;
  for (;;) {
    sus::BacklogExport e = core.export_backlog(budget);
    s.kept = e.kept;
    s.left_out = e.left_out;
    s.bytes = e.batch.size();
    s.dropped = e.dropped;
    if (e.kept == 0) {
      s.stored = store.remove("backlog");
      break;
    }
    if (store.setBlob("backlog", e.batch) || (store.remove("backlog") && store.setBlob("backlog", e.batch))) {
      s.stored = true;
      break;
    }
    budget = e.batch.size() / 2;
  }
  const bool counted = s.dropped == 0 ? store.remove("dropped") : store.set("dropped", std::to_string(s.dropped));
  s.stored = s.stored && counted;
  return s;
}
