#include <doctest.h>

#include "sus/backoff.hpp"
#include "sus/device_core.hpp"
#include "sus/ring_buffer.hpp"
#include "sus/time_sync.hpp"
#include "fakes.hpp"

namespace {

using namespace sus_test;

/** A connected core without sensors or store: what the downlink cases need. */
struct Downlinks {
  FakeTransport tx;
  sus::TimeSync time;
  sus::DeviceCore core{bundle(), tx, {}, nullptr, time};
  Downlinks() { tx.up = true; }
};

}  // namespace

TEST_CASE("ring buffer keeps order and drops the oldest when full") {
  sus::RingBuffer<int> rb(3);
  CHECK(rb.push(1));
  CHECK(rb.push(2));
  CHECK(rb.push(3));
  CHECK(!rb.push(4));
  CHECK(rb.dropped() == 1);
  CHECK(rb.size() == 3);
  CHECK(rb.at(0) == 2);
  CHECK(rb.at(2) == 4);
  rb.pop_front(2);
  CHECK(rb.at(0) == 4);
  rb.push(5);
  rb.push(6);
  CHECK(rb.at(0) == 4);
  CHECK(rb.at(2) == 6);
  rb.pop_front(10);
  CHECK(rb.empty());
}

TEST_CASE("backoff grows exponentially to the cap and stays within [ceiling/2, ceiling]") {
  uint32_t r = 0;
  sus::Backoff low(100, 1000, [&r] { return r; });
  CHECK(low.next_delay_ms() == 50);
  CHECK(low.next_delay_ms() == 100);
  CHECK(low.next_delay_ms() == 200);
  CHECK(low.next_delay_ms() == 400);
  CHECK(low.next_delay_ms() == 500);
  CHECK(low.next_delay_ms() == 500);
  r = 0xFFFFFFFFu;
  sus::Backoff high(100, 1000, [&r] { return r; });
  for (int i = 0; i < 40; ++i) {
    uint32_t d = high.next_delay_ms();
    CHECK(d >= 50);
    CHECK(d <= 1000);
  }
  high.reset();
  CHECK(high.next_delay_ms() <= 100);
}

TEST_CASE("time sync refuses 1970 and far-future clocks and maps monotonic time once synced") {
  sus::TimeSync t;
  CHECK(!t.on_sync(5000, 0));
  CHECK(!t.on_sync(5000000000000, 0));
  CHECK(!t.synced());
  CHECK(t.epoch_at(100) == 0);
  CHECK(t.on_sync(kEpoch + 1000, 1000));
  CHECK(t.epoch_at(0) == kEpoch);
}

TEST_CASE("core: readings taken before the first time sync are held back, then leave with their true time") {
  FakeTransport tx;
  tx.up = true;
  CountingSensor s;
  sus::TimeSync time;
  sus::DeviceCore core(bundle(), tx, {&s}, nullptr, time);
  core.loop(0);
  CHECK(tx.sent.empty());  // no 1970 timestamp ever leaves
  CHECK(core.backlog() == 1);
  time.on_sync(kEpoch + 5000, 5000);
  core.loop(5000);
  REQUIRE(tx.sent.size() == 1);
  CHECK(tx.sent[0].first == "sus/v1/devices/d-1/up");
  CHECK(tx.sent[0].second == R"({"time":1764000000000,"seq":1,"values":{"air_temperature":0,"relative_humidity":50}})");
}

TEST_CASE("core: offline readings stay buffered with their timestamps and flush as batches after reconnect") {
  sus::CoreOptions opt;
  opt.batch_max = 2;
  SyncedCore c(opt);
  auto& [tx, s, time, core] = c;
  for (int64_t t = 0; t < 3 * 60000; t += 60000) core.loop(t);  // three readings, offline
  CHECK(core.backlog() == 3);
  CHECK(tx.sent.empty());
  tx.up = true;
  core.on_connected();
  REQUIRE(tx.sent.size() == 1);
  CHECK(tx.sent[0].second ==
        R"([{"time":1764000000000,"seq":1,"values":{"air_temperature":0,"relative_humidity":50}},)"
        R"({"time":1764000060000,"seq":2,"values":{"air_temperature":1,"relative_humidity":50}}])");
  reconnect(tx, core);  // lost before the PUBACK: the batch is sent again, nothing is lost
  REQUIRE(tx.sent.size() == 2);
  CHECK(tx.sent[1].second == tx.sent[0].second);
  core.on_puback(tx.mids[0]);  // a stale PUBACK of the first attempt pops nothing
  CHECK(core.backlog() == 3);
  core.on_puback(tx.mids[1]);
  REQUIRE(tx.sent.size() == 3);
  CHECK(tx.sent[2].second ==
        R"({"time":1764000120000,"seq":3,"values":{"air_temperature":2,"relative_humidity":50}})");
  core.on_puback(tx.mids[2]);
  CHECK(core.backlog() == 0);
  CHECK(core.stats().published == 3);
  CHECK(core.stats().batches == 1);
}

TEST_CASE("core: a full buffer drops the oldest readings and counts them") {
  sus::CoreOptions opt;
  opt.buffer_capacity = 2;
  SyncedCore c(opt);
  auto& [tx, s, time, core] = c;
  for (int i = 0; i < 5; ++i) core.take_reading(i * 1000);
  CHECK(core.backlog() == 2);
  CHECK(core.stats().dropped == 3);
  tx.up = true;
  core.on_connected();
  REQUIRE(tx.sent.size() == 1);
  CHECK(tx.sent[0].second.find(R"("seq":4,)") != std::string::npos);
  CHECK(tx.sent[0].second.find(R"("seq":3,)") == std::string::npos);
}

TEST_CASE("core: desired config changes the interval and enabled sensors, is stored and acked with its ref") {
  FakeTransport tx;
  tx.up = true;
  CountingSensor s;
  MapStore store;
  sus::TimeSync time;
  time.on_sync(kEpoch, 0);
  sus::DeviceCore core(bundle(), tx, {&s}, &store, time);
  core.loop(0);
  core.on_puback(tx.mids.back());
  core.on_message("sus/v1/devices/d-1/down/config", R"({"ref":"c-7","interval_s":10,"sensors":["air_temperature"]})");
  REQUIRE(tx.sent.size() == 2);
  CHECK(tx.sent[1].first == "sus/v1/devices/d-1/ack");
  CHECK(tx.sent[1].second ==
        R"({"status":"applied","ref":"c-7","ok":true,"applied":{"interval_s":10,"sensors":["air_temperature"]}})");
  CHECK(core.config().interval_s == 10);
  CHECK(store.m["config"] == R"({"interval_s":10,"sensors":["air_temperature"]})");
  core.loop(1000);  // the new interval counts from now: a reading right away…
  REQUIRE(tx.sent.size() == 3);
  CHECK(tx.sent[2].second == R"({"time":1764000001000,"seq":2,"values":{"air_temperature":1}})");
  core.on_puback(tx.mids.back());
  core.loop(10999);  // …and none before ten seconds have passed
  CHECK(tx.sent.size() == 3);
  core.loop(11000);
  CHECK(tx.sent.size() == 4);

  // A reboot restores the stored config.
  sus::DeviceCore again(bundle(), tx, {&s}, &store, time);
  again.restore();
  CHECK(again.config().interval_s == 10);
}

TEST_CASE_FIXTURE(Downlinks, "core: invalid desired config is refused as a whole and the refusal is acked") {
  core.on_message("sus/v1/devices/d-1/down/config", R"({"id":3,"interval_s":0,"sensors":["x"]})");
  core.on_message("sus/v1/devices/d-1/down/config", "not json");
  core.on_message("sus/v1/devices/d-1/down/command", R"({"command":12,"name":"reboot","args":{}})");
  core.on_message("sus/v1/devices/other/down/config", R"({"interval_s":5})");
  REQUIRE(tx.sent.size() == 3);
  CHECK(tx.sent[0].second == R"({"config":3,"status":"rejected","ref":3,"ok":false,"error":"interval_s must be an integer in [1, 86400]"})");
  CHECK(tx.sent[1].second == R"({"status":"rejected","ref":null,"ok":false,"error":"not JSON: invalid literal at offset 0"})");
  CHECK(tx.sent[2].second == R"({"command":12,"status":"rejected","ref":12,"ok":false,"error":"unsupported downlink command reboot"})");
  CHECK(core.config().interval_s == 60);
  CHECK(core.config().sensors.empty());
}

TEST_CASE_FIXTURE(Downlinks, "core: the platform's versioned desired-config document is applied and acked with its version") {
  core.on_message("sus/v1/devices/d-1/down/config", R"({"version":4,"config":{"interval_s":30},"time":1764000000000})");
  CHECK(core.config().interval_s == 30);
  CHECK(tx.sent[0].second == R"({"config":4,"status":"applied","ref":4,"ok":true,"applied":{"interval_s":30,"sensors":[]}})");
}

TEST_CASE_FIXTURE(Downlinks, "core: a downlink bigger than the board's heap can parse is refused and acked, the config unchanged") {
  // 16 KB (the platform's downlink limit) of extra members: ~8000 values, ~500 KB of nodes on the ESP32. The
  // platform redelivers the retained config on every connect, so a board that tried would reboot in a loop.
  std::string padding = "0";
  while (padding.size() < 16000) padding += ",0";
  core.on_message("sus/v1/devices/d-1/down/config", R"({"version":5,"config":{"interval_s":30},"labels":[)" + padding + "]}");
  REQUIRE(tx.sent.size() == 1);
  CHECK(tx.sent[0].second == R"({"status":"rejected","ref":null,"ok":false,"error":"not JSON: too many values at offset 552"})");
  CHECK(core.config().interval_s == 60);
}

TEST_CASE_FIXTURE(Downlinks, "core: the ack of a downlink that is not UTF-8 is still JSON text (no invalid bytes echoed)") {
  core.on_message("sus/v1/devices/d-1/down/command", "{\"command\":12,\"name\":\"re\xff" "boot\"}");
  REQUIRE(tx.sent.size() == 1);
  CHECK(tx.sent[0].second == R"({"status":"rejected","ref":null,"ok":false,"error":"unsupported downlink command"})");
}

TEST_CASE("core: a local interval override is bounded and every reading is shown to the observer") {
  SyncedCore c;
  auto& [tx, s, time, core] = c;
  CHECK(!core.set_interval_s(0));
  CHECK(core.set_interval_s(5));
  std::vector<int64_t> seen;
  core.on_reading([&seen](const sus::Reading& r) { seen.push_back(r.time_ms); });
  for (int64_t t = 0; t <= 10000; t += 1000) core.loop(t);
  CHECK(seen == std::vector<int64_t>{kEpoch, kEpoch + 5000, kEpoch + 10000});
}

TEST_CASE("core: the backlog survives a deep sleep through the store, readings without a known time do not") {
  FakeTransport tx;
  CountingSensor s;
  sus::TimeSync unsynced;
  sus::DeviceCore before(bundle(), tx, {&s}, nullptr, unsynced);
  before.take_reading(0);  // never synced: cannot be given a true time after the restart
  sus::BacklogExport none = before.export_backlog();
  CHECK(none.batch == "[]");
  CHECK(none.left_out == 1);
  CHECK(none.dropped == 1);  // lost, and counted

  sus::TimeSync time;
  time.on_sync(kEpoch, 0);
  sus::DeviceCore a(bundle(), tx, {&s}, nullptr, time);
  a.take_reading(1000);
  a.take_reading(2000);
  std::string saved = a.export_backlog().batch;

  sus::TimeSync after_boot;
  after_boot.on_sync(kEpoch + 60000, 0);
  sus::DeviceCore b(bundle(), tx, {&s}, nullptr, after_boot);
  b.take_reading(0);
  REQUIRE(b.import_backlog(saved));
  CHECK(!b.import_backlog("{not a batch"));
  CHECK(b.backlog() == 3);
  tx.up = true;
  b.on_connected();
  REQUIRE(tx.sent.size() == 1);
  CHECK(tx.sent[0].second.find(R"([{"time":1764000001000,"seq":1,)") == 0);
  CHECK(tx.sent[0].second.find(R"({"time":1764000002000,"seq":2,)") != std::string::npos);
  CHECK(tx.sent[0].second.find(R"({"time":1764000060000,"seq":1,)") != std::string::npos);
}
