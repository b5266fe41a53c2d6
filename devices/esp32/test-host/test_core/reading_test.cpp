#include <doctest.h>

#include <cmath>

#include "sus/reading.hpp"
#include "sus/topics.hpp"

TEST_CASE("reading: canonical JSON, non-finite values left out, no time while unknown") {
  sus::Reading r;
  r.time_ms = 1764000000123;
  r.seq = 42;
  r.values = {{"air_temperature", 21.4}, {"pm2_5", NAN}, {"relative_humidity", 55.2}};
  CHECK(sus::encode_reading(r) ==
        R"({"time":1764000000123,"seq":42,"values":{"air_temperature":21.4,"relative_humidity":55.2}})");
  r.time_ms = 0;
  CHECK(sus::encode_reading(r) == R"({"seq":42,"values":{"air_temperature":21.4,"relative_humidity":55.2}})");
}

TEST_CASE("reading: a batch is an array and decodes back") {
  sus::Reading a{1764000000000, 0, 1, {{"co2", 420}}};
  sus::Reading b{1764000060000, 0, 2, {{"co2", 415.5}}};
  std::string json = sus::encode_batch({a, b});
  CHECK(json == R"([{"time":1764000000000,"seq":1,"values":{"co2":420}},{"time":1764000060000,"seq":2,"values":{"co2":415.5}}])");
  std::vector<sus::Reading> back;
  REQUIRE(sus::decode_batch(json, back));
  REQUIRE(back.size() == 2);
  CHECK(back[1].time_ms == 1764000060000);
  CHECK(back[1].seq == 2);
  CHECK(back[1].values[0].second == 415.5);
  CHECK(!sus::decode_batch("{}", back));
}

TEST_CASE("reading: a backlog whose time or seq is out of range is refused, not cast (found by json-fuzz)") {
  // The fuzzer's input: a time of 1.764e22 ms made the double → int64 cast undefined behaviour.
  std::vector<sus::Reading> back;
  CHECK(!sus::decode_batch(R"([{"time":17640000000764000060000,"seq":2,"values":{}}])", back));
  CHECK(!sus::decode_batch(R"([{"time":1764000000000,"seq":4294967296,"values":{}}])", back));
  CHECK(!sus::decode_batch(R"([{"time":1764000000000,"seq":-1,"values":{}}])", back));
  CHECK(!sus::decode_batch(R"([{"time":1764000000000,"seq":1.5,"values":{}}])", back));
  CHECK(!sus::decode_batch(R"([{"time":1000,"seq":1,"values":{}}])", back));  // 1970: never exported
  CHECK(!sus::decode_batch(R"([{"time":"1764000000000","seq":1,"values":{}}])", back));
  CHECK(back.empty());
  REQUIRE(sus::decode_batch(R"([{"seq":4294967295,"values":{}},{"time":1764000000001,"seq":0,"values":{}}])", back));
  CHECK(back[0].seq == 4294967295u);
  CHECK(back[0].time_ms == 0);
  CHECK(back[1].time_ms == 1764000000001);
}

TEST_CASE("reading: the count of readings lost before it goes out as `dropped` and reads back from a backlog") {
  sus::Reading r{1764000000000, 0, 9, {{"co2", 420}}, 3};
  CHECK(sus::encode_reading(r) == R"({"time":1764000000000,"seq":9,"dropped":3,"values":{"co2":420}})");
  std::vector<sus::Reading> back;
  REQUIRE(sus::decode_batch(sus::encode_batch({r}), back));
  CHECK(back[0].dropped == 3);
  back.clear();
  CHECK(!sus::decode_batch(R"([{"time":1764000000000,"seq":1,"dropped":-1,"values":{}}])", back));
  CHECK(!sus::decode_batch(R"([{"time":1764000000000,"seq":1,"dropped":4294967296,"values":{}}])", back));
  CHECK(!sus::decode_batch(R"([{"time":1764000000000,"seq":1,"dropped":"3","values":{}}])", back));
  CHECK(back.empty());
}

TEST_CASE("topics follow the contract and only this device's downlinks are recognised") {
  CHECK(sus::topic_up("d-1") == "sus/v1/devices/d-1/up");
  CHECK(sus::topic_ack("d-1") == "sus/v1/devices/d-1/ack");
  CHECK(sus::topic_down_filter("d-1") == "sus/v1/devices/d-1/down/#");
  CHECK(sus::down_channel("d-1", "sus/v1/devices/d-1/down/config") == "config");
  CHECK(sus::down_channel("d-1", "sus/v1/devices/d-2/down/config").empty());
  CHECK(sus::down_channel("d-1", "sus/v1/devices/d-1/down/").empty());
  CHECK(sus::valid_device_id("aq-altstadt-01"));
  CHECK(!sus::valid_device_id("-x"));
  CHECK(!sus::valid_device_id("A"));
  CHECK(!sus::valid_device_id(std::string(65, 'a')));
}
