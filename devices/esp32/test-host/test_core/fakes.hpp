// Test doubles of what a board provides (platform.hpp), shared by the core's test files.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sus/bundle.hpp"
#include "sus/device_core.hpp"
#include "sus/platform.hpp"
#include "sus/time_sync.hpp"

namespace sus_test {

struct FakeTransport : sus::Transport {
  bool up = false;
  int next_mid = 1;
  std::vector<std::pair<std::string, std::string>> sent;
  std::vector<int> mids;
  bool connected() const override { return up; }
  int publish(const std::string& topic, const std::string& payload) override {
    if (!up) return -1;
    sent.emplace_back(topic, payload);
    mids.push_back(next_mid);
    return next_mid++;
  }
};

struct CountingSensor : sus::Sensor {
  double v = 0;
  const char* name() const override { return "climate"; }
  bool read(std::vector<std::pair<std::string, double>>& out) override {
    out.emplace_back("air_temperature", v);
    out.emplace_back("relative_humidity", 50);
    v += 1;
    return true;
  }
};

struct MapStore : sus::KeyValueStore {
  std::map<std::string, std::string> m;
  bool get(const std::string& k, std::string& v) override {
    auto it = m.find(k);
    if (it == m.end()) return false;
    v = it->second;
    return true;
  }
  bool set(const std::string& k, const std::string& v) override {
    m[k] = v;
    return true;
  }
};

inline sus::Bundle bundle() {
  return sus::parse_bundle(R"({"device_id":"d-1","mqtt":{"url":"mqtt://h","password":"p"}})").bundle;
}

constexpr int64_t kEpoch = 1764000000000;  // epoch ms at mono 0

/** The connection drops and comes back before a PUBACK: what was in flight goes out again. */
inline void reconnect(FakeTransport& tx, sus::DeviceCore& core) {
  tx.up = false;
  core.on_disconnected();
  tx.up = true;
  core.on_connected();
}

/** A core with one counting sensor and no store, its clock synced to kEpoch at mono 0: what most cases start from. */
struct SyncedCore {
  explicit SyncedCore(sus::CoreOptions options = {})
      : core(bundle(), tx, {&s}, nullptr, synced(time), options) {}
  FakeTransport tx;
  CountingSensor s;
  sus::TimeSync time;
  sus::DeviceCore core;  // after the members it is built from

 private:
  static sus::TimeSync& synced(sus::TimeSync& t) {
    t.on_sync(kEpoch, 0);
    return t;
  }
};

}  // namespace sus_test
