// The backlog kept through a deep sleep: within a byte budget, the newest readings first, and no reading lost
// without a count the platform gets with the next message.
#include <doctest.h>

#include "fakes.hpp"
#include "sus/device_core.hpp"
#include "sus/time_sync.hpp"

using namespace sus_test;

namespace {

/** The seqs and `dropped` counts of a batch, in order. */
std::vector<std::pair<uint32_t, uint32_t>> seqs(const std::string& batch) {
  std::vector<sus::Reading> readings;
  REQUIRE_MESSAGE(sus::decode_batch(batch, readings), batch);
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (const auto& r : readings) out.emplace_back(r.seq, r.dropped);
  return out;
}

}  // namespace

TEST_CASE("backlog: an export within a byte budget keeps the newest readings and counts the rest in the oldest kept") {
  SyncedCore c;
  auto& [tx, s, time, core] = c;
  for (int i = 0; i < 10; ++i) core.take_reading(i * 60000);

  sus::BacklogExport all = core.export_backlog();
  CHECK(all.kept == 10);
  CHECK(all.left_out == 0);
  CHECK(all.dropped == 0);
  // The longest of them (seq 10): four of this size fit four of theirs.
  const std::size_t one = sus::encode_reading({kEpoch, 0, 10, {{"air_temperature", 0}, {"relative_humidity", 50}}}).size();

  // Room for four readings (and the count the oldest of them gets): six are left out, and it says so.
  sus::BacklogExport four = core.export_backlog(2 + 4 * (one + 1) + 21);
  CHECK(four.kept == 4);
  CHECK(four.left_out == 6);
  CHECK(four.dropped == 0);
  CHECK(four.batch.size() <= 2 + 4 * (one + 1) + 21);
  CHECK(seqs(four.batch) == std::vector<std::pair<uint32_t, uint32_t>>{{7, 6}, {8, 0}, {9, 0}, {10, 0}});

  // Not even one fits: the count is the export's own, to be kept beside it.
  sus::BacklogExport none = core.export_backlog(one);
  CHECK(none.batch == "[]");
  CHECK(none.kept == 0);
  CHECK(none.dropped == 10);

  // Imported after the wake and exported again with less room: the count carried by a reading that no longer fits
  // moves on to the oldest one kept, so the total stays right.
  sus::TimeSync after_boot;
  after_boot.on_sync(kEpoch + 3600000, 0);
  sus::DeviceCore woken(bundle(), tx, {&s}, nullptr, after_boot);
  REQUIRE(woken.import_backlog(four.batch));
  sus::BacklogExport two = woken.export_backlog(2 + 2 * (one + 1) + 21);
  CHECK(seqs(two.batch) == std::vector<std::pair<uint32_t, uint32_t>>{{9, 8}, {10, 0}});
}

TEST_CASE("backlog: a cold boot's readings without a time are counted, the restored ones before them still kept") {
  FakeTransport tx;
  CountingSensor s;
  sus::TimeSync synced;
  synced.on_sync(kEpoch, 0);
  sus::DeviceCore before(bundle(), tx, {&s}, nullptr, synced);
  before.take_reading(0);
  before.take_reading(60000);

  sus::TimeSync never;  // no SNTP after this boot
  sus::DeviceCore core(bundle(), tx, {&s}, nullptr, never);
  core.take_reading(0);
  REQUIRE(core.import_backlog(before.export_backlog().batch));
  sus::BacklogExport e = core.export_backlog();
  CHECK(e.left_out == 1);
  CHECK(seqs(e.batch) == std::vector<std::pair<uint32_t, uint32_t>>{{1, 1}, {2, 0}});
}

TEST_CASE("backlog: readings lost to a full buffer go out as `dropped` with the next message until it is acknowledged") {
  sus::CoreOptions opt;
  opt.buffer_capacity = 2;
  opt.batch_max = 1;
  SyncedCore c(opt);
  auto& [tx, s, time, core] = c;
  for (int i = 0; i < 5; ++i) core.take_reading(i * 1000);  // seq 1..3 lost
  CHECK(core.stats().dropped == 3);
  tx.up = true;
  core.on_connected();
  REQUIRE(tx.sent.size() == 1);
  CHECK(tx.sent[0].second ==
        R"({"time":1764000003000,"seq":4,"dropped":1,"values":{"air_temperature":3,"relative_humidity":50}})");
  reconnect(tx, core);  // lost before the PUBACK: sent again with its count
  REQUIRE(tx.sent.size() == 2);
  CHECK(tx.sent[1].second == tx.sent[0].second);
  core.on_puback(tx.mids[1]);
  REQUIRE(tx.sent.size() == 3);
  CHECK(tx.sent[2].second ==
        R"({"time":1764000004000,"seq":5,"dropped":2,"values":{"air_temperature":4,"relative_humidity":50}})");
  core.on_puback(tx.mids[2]);
  core.loop(5000);  // nothing lost since
  REQUIRE(tx.sent.size() == 4);
  CHECK(tx.sent[3].second == R"({"time":1764000005000,"seq":6,"values":{"air_temperature":5,"relative_humidity":50}})");
}

TEST_CASE("backlog: a count kept beside the backlog goes out with the next reading taken") {
  SyncedCore c;
  auto& [tx, s, time, core] = c;
  tx.up = true;
  core.count_dropped(7);
  core.count_dropped(UINT32_MAX);  // saturates instead of wrapping to 6
  CHECK(tx.sent.empty());
  core.loop(0);
  REQUIRE(tx.sent.size() == 1);
  CHECK(tx.sent[0].second ==
        R"({"time":1764000000000,"seq":1,"dropped":4294967295,"values":{"air_temperature":0,"relative_humidity":50}})");
}
