// The ESP32 glue (src/main.cpp and the sensor drivers) run on the host against the scripted Arduino/ESP-IDF stubs:
// proves it still compiles and links against the board's APIs, and that setup()/loop() wire the core the way the
// README says (provisioning over serial, MQTT connect and subscribe, readings from both drivers, downlink acks,
// reconnect backoff, the schedule across millis()'s wrap, deep sleep with the state in NVS).
#include <doctest.h>

#include <ctime>

#include "stub_control.h"
#include "sus/bundle.hpp"
#include "sus/json.hpp"

void setup();
void loop();

namespace {

const char* const kBundle =
    R"({"device_id":"aq-glue-1","mqtt":{"urls":["mqtt://broker.example:1883"],"password":"pw"}})";
const std::string kUp = "sus/v1/devices/aq-glue-1/up";
const std::string kAck = "sus/v1/devices/aq-glue-1/ack";

// One SDS011 data frame: pm2.5 12.3, pm10 45.6 (tenths, little endian), sensor id 0x1234, checksum, tail.
const std::deque<uint8_t> kSdsFrame = {0xAA, 0xC0, 0x7B, 0x00, 0xC8, 0x01, 0x12, 0x34, 0x8A, 0xAB};

sus::Json parse(const std::string& text) {
  sus::JsonResult r = sus::parse_json(text);
  REQUIRE_MESSAGE(r.ok, text);
  return r.value;
}

}  // namespace

// The glue's [[noreturn]] exits, named in a failure instead of "unknown exception".
REGISTER_EXCEPTION_TRANSLATOR(const stub::Restart&) { return "ESP.restart()"; }
REGISTER_EXCEPTION_TRANSLATOR(const stub::DeepSleep& s) {
  return doctest::String("esp_deep_sleep_start() for ") + doctest::toString(s.wakeup_us) + " us";
}

TEST_CASE("glue: a first boot takes the bundle and the Wi-Fi credentials from the serial console, then restarts") {
  stub::board() = stub::Board{};
  stub::board().console_in = {"", "{\"device_id\":\"x\"}", kBundle, "wifi street-net a pass phrase"};
  CHECK_THROWS_AS(setup(), stub::Restart);
  const auto& nvs = stub::board().nvs;
  CHECK(nvs.at("wifi_ssid") == "street-net");
  CHECK(nvs.at("wifi_pass") == "a pass phrase");
  sus::BundleResult stored = sus::parse_bundle(nvs.at("bundle"));
  REQUIRE(stored.ok);
  CHECK(stored.bundle.device_id == "aq-glue-1");
  // The incomplete bundle was refused with the parser's reason, and the technician could try again.
  CHECK(stub::board().console_out.find("sus: bundle: no MQTT url\n") != std::string::npos);
}

TEST_CASE("glue: a provisioned board connects, publishes both drivers' readings, acks a config and deep-sleeps") {
  stub::board() = stub::Board{};
  stub::Board& b = stub::board();
  b.nvs = {{"bundle", kBundle}, {"wifi_ssid", "street-net"}, {"wifi_pass", "pw"},
           {"config", R"({"interval_s":30,"sensors":[]})"}};
  b.uart2 = kSdsFrame;
  // Up for 49.7 days, 30.5 s before millis() wraps: a board with a short interval never sleeps, so it gets there.
  const int64_t boot = (int64_t{1} << 32) - 30500;
  b.uptime_ms = boot;
  setup();
  CHECK(b.wifi_ssid == "street-net");
  CHECK(b.i2c_sda == SUS_I2C_SDA);  // the pins platformio.ini sets for the board
  CHECK(b.i2c_scl == SUS_I2C_SCL);
  CHECK(b.uart2_rx == SUS_SDS011_RX);
  CHECK(b.uart2_tx == SUS_SDS011_TX);
  CHECK(b.mqtt_started);
  CHECK(b.mqtt_uri == "mqtt://broker.example:1883");
  CHECK(b.mqtt_client_id == "aq-glue-1");
  CHECK(b.mqtt_username == "aq-glue-1");
  CHECK(b.mqtt_password == "pw");
  CHECK_FALSE(b.mqtt_tls_ca);
  CHECK_FALSE(b.mqtt_auto_reconnect);  // the core's backoff with jitter decides when to retry

  loop();  // offline: the reading is buffered
  CHECK(b.published.empty());

  stub::mqtt_event(MQTT_EVENT_CONNECTED);
  loop();
  CHECK(b.subscriptions == std::vector<std::string>{"sus/v1/devices/aq-glue-1/down/#"});
  REQUIRE(b.published.size() == 1);
  CHECK(b.published[0].topic == kUp);
  CHECK(b.published[0].qos == 1);
  sus::Json reading = parse(b.published[0].payload);
  CHECK(reading.get("seq")->as_number() == 1);
  const double now_ms = static_cast<double>(std::time(nullptr)) * 1000;
  CHECK(reading.get("time")->as_number() > now_ms - 60000);  // the host clock stands in for SNTP
  CHECK(reading.get("time")->as_number() <= now_ms + 1000);
  CHECK(reading.get("values")->dump() ==
        R"({"air_temperature":21.5,"relative_humidity":40,"air_pressure":101325,"pm2_5":12.3,"pm10":45.6})");

  // The connection drops before the PUBACK: the reading stays, and the retry waits for the backoff.
  stub::mqtt_event(MQTT_EVENT_DISCONNECTED);
  loop();
  CHECK(b.mqtt_reconnects == 0);
  b.uptime_ms += 1000;  // the first delay is within [500, 1000] ms
  loop();
  CHECK(b.mqtt_reconnects == 1);
  stub::mqtt_event(MQTT_EVENT_CONNECTED);
  loop();
  REQUIRE(b.published.size() == 2);
  CHECK(b.published[1].payload == b.published[0].payload);
  stub::mqtt_event(MQTT_EVENT_PUBLISHED, b.published[1].mid);
  loop();
  CHECK(b.published.size() == 2);

  // The next readings are due every 30 s, across millis()'s wrap: the second one's SDS011 read spans it, the third
  // comes after it.
  for (int64_t due : {boot + 30000, boot + 60000}) {
    b.uptime_ms = due;
    loop();
    REQUIRE(b.published.size() == 3);
    CHECK(b.published[2].topic == kUp);
    CHECK(parse(b.published[2].payload).get("seq")->as_number() == (due == boot + 30000 ? 2 : 3));
    stub::mqtt_event(MQTT_EVENT_PUBLISHED, b.published[2].mid);
    b.published.pop_back();
  }

  // A config of 600 s: applied and acked, and a reading is taken at once (the new interval counts from now). The
  // board has been awake far beyond its 20 s budget, so it sleeps in the same loop, the reading still in flight:
  // it goes to NVS with the next seq and leaves after the wake.
  stub::mqtt_event(MQTT_EVENT_DATA, 0, "sus/v1/devices/aq-glue-1/down/config",
                   R"({"version":4,"config":{"interval_s":600,"sensors":[]}})");
  CHECK_THROWS_AS(loop(), stub::DeepSleep);
  CHECK(b.sleep_timer_us == 600ull * 1000000);
  REQUIRE(b.published.size() == 4);
  CHECK(b.published[2].topic == kAck);
  CHECK(b.published[2].payload ==
        R"({"config":4,"status":"applied","ref":4,"ok":true,"applied":{"interval_s":600,"sensors":[]}})");
  CHECK(b.nvs.at("config") == R"({"interval_s":600,"sensors":[]})");
  CHECK(b.published[3].topic == kUp);
  CHECK(b.nvs.at("backlog") == "[" + b.published[3].payload + "]");
  CHECK(parse(b.published[3].payload).get("seq")->as_number() == 4);
  CHECK(b.nvs.at("seq") == "5");
}
