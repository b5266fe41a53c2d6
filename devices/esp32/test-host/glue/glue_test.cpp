// The ESP32 glue (src/main.cpp and the sensor drivers) run on the host against the scripted Arduino/ESP-IDF stubs:
// proves it still compiles and links against the board's APIs, and that setup()/loop() wire the core the way the
// README says (provisioning over serial, MQTT connect and subscribe, the bundle's URLs in order, readings from both
// drivers, downlink acks, reconnect backoff, the schedule across millis()'s wrap, the state in NVS within NVS's real
// limits through a deep sleep or, always on, a reset).
#include <doctest.h>

#include <ctime>

#include "stub_control.h"
#include "sus/bundle.hpp"
#include "sus/json.hpp"
#include "sus/reading.hpp"

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

using Type = stub::Nvs::Type;

/**
 * A CA chain of `n` PEM certificates the size of ISRG Root X1 (RSA 4096, 1.9 KB): base64 bodies in 64-column
 * lines. The bundle parser looks at the markers only, so the bodies need not decode.
 */
std::string caChain(int n) {
  static const char* const kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string chain;
  for (int c = 0; c < n; ++c) {
    chain += "-----BEGIN CERTIFICATE-----\n";
    for (int i = 0; i < 1852; ++i) {
      chain += kBase64[(i * 7 + c * 13) % 64];
      if (i % 64 == 63) chain += '\n';
    }
    chain += "\n-----END CERTIFICATE-----\n";
  }
  return chain;
}

/** A bundle as `sus device bundle` prints it, with a TLS URL and `chain` as its CA. */
std::string tlsBundle(const std::string& chain) {
  sus::Json urls = sus::Json::array();
  urls.push(sus::Json::string("mqtts://sus.example.org:8883"));
  sus::Json mqtt = sus::Json::object();
  mqtt.set("urls", urls);
  mqtt.set("username", sus::Json::string("aq-glue-1"));
  mqtt.set("password", sus::Json::string("a-long-generated-password-0123456789"));
  mqtt.set("clientId", sus::Json::string("aq-glue-1"));
  sus::Json b = sus::Json::object();
  b.set("device", sus::Json::string("aq-glue-1"));
  b.set("department", sus::Json::string("environment"));
  b.set("type", sus::Json::string("air_quality"));
  b.set("mqtt", mqtt);
  b.set("caCertificate", sus::Json::string(chain));
  return b.dump();
}

/** A board provisioned for deep sleep (600 s): `bundle` and the Wi-Fi credentials in NVS, as provisioning leaves them. */
void provisionedForSleep(const std::string& bundle) {
  stub::board() = stub::Board{};
  stub::Board& b = stub::board();
  b.nvs.open("sus");
  b.nvs.put_blob("bundle", sus::serialize_bundle(sus::parse_bundle(bundle).bundle));
  b.nvs.put_string("wifi_ssid", "street-net");
  b.nvs.put_string("wifi_pass", "pw");
  b.nvs.put_string("config", R"({"interval_s":600,"sensors":[]})");
}

/** One wake of a deep-sleeping board without a broker: a reading taken, the awake budget spent, back to sleep. */
void wakeOffline() {
  stub::Board& b = stub::board();
  b.uptime_ms = 0;  // esp_timer starts again after a deep sleep
  setup();
  loop();
  b.uptime_ms = 20001;
  CHECK_THROWS_AS(loop(), stub::DeepSleep);
}

/** The readings NVS holds for the next wake. */
std::vector<sus::Reading> storedBacklog() {
  std::vector<sus::Reading> readings;
  const stub::Nvs& nvs = stub::board().nvs;
  if (!nvs.has("backlog")) return readings;
  CHECK(nvs.type("backlog") == Type::Blob);
  REQUIRE(sus::decode_batch(nvs.at("backlog"), readings));
  return readings;
}

/** The stored backlog is the newest readings up to `taken`, the oldest of them counting the ones left out. */
void checkNewestKept(const std::vector<sus::Reading>& kept, uint32_t taken) {
  REQUIRE(!kept.empty());
  CHECK(kept.back().seq == taken);
  for (std::size_t i = 0; i < kept.size(); ++i) {
    CHECK(kept[i].seq == taken - kept.size() + 1 + i);
    CHECK(kept[i].dropped == (i == 0 ? taken - kept.size() : 0));
  }
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
  b.nvs.put_blob("bundle", kBundle);
  b.nvs.put_string("wifi_ssid", "street-net");
  b.nvs.put_string("wifi_pass", "pw");
  b.nvs.put_string("config", R"({"interval_s":30,"sensors":[]})");
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
  CHECK(b.nvs.type("backlog") == Type::Blob);
  CHECK(parse(b.published[3].payload).get("seq")->as_number() == 4);
  CHECK(b.nvs.at("seq") == "5");
}

TEST_CASE("glue: a bundle with a three-certificate CA chain (6 KB, over NVS's string limit) provisions and connects") {
  stub::board() = stub::Board{};
  stub::Board& b = stub::board();
  const std::string chain = caChain(3);
  const std::string bundle = tlsBundle(chain);
  CHECK(bundle.size() > 6000);
  b.console_in = {bundle, "wifi street-net pw"};
  CHECK_THROWS_AS(setup(), stub::Restart);
  REQUIRE(b.nvs.has("bundle"));
  CHECK(b.nvs.type("bundle") == Type::Blob);
  CHECK(b.nvs.at("bundle").size() > stub::Nvs::kMaxStringBytes);
  sus::BundleResult stored = sus::parse_bundle(b.nvs.at("bundle"));
  REQUIRE_MESSAGE(stored.ok, stored.error);
  CHECK(stored.bundle.ca_cert == chain);

  // After the restart the board is provisioned: no prompt, a TLS connection with the chain.
  b.console_out.clear();
  setup();
  CHECK(b.console_out.empty());
  CHECK(b.mqtt_uri == "mqtts://sus.example.org:8883");
  CHECK(b.mqtt_tls_ca);
}

TEST_CASE("glue: a bundle NVS cannot keep is refused on the console, and provisioning goes on instead of looping") {
  stub::board() = stub::Board{};
  stub::Board& b = stub::board();
  // Too large for the bundle's share of NVS: refused before it is written, the technician can paste another.
  const std::string huge = tlsBundle(caChain(5));
  const std::size_t huge_bytes = sus::serialize_bundle(sus::parse_bundle(huge).bundle).size();
  b.console_in = {huge, kBundle, "wifi street-net pw"};
  CHECK_THROWS_AS(setup(), stub::Restart);
  CHECK(b.console_out.find("sus: bundle refused: " + std::to_string(huge_bytes) +
                           " bytes, NVS keeps at most 8192 for it (is the CA chain longer than needed?)\n") !=
        std::string::npos);
  REQUIRE(b.nvs.has("bundle"));
  CHECK(sus::parse_bundle(b.nvs.at("bundle")).bundle.ca_cert.empty());

  // Within the budget, but NVS is full (other data grew): said so, not stored, no restart into the same prompt.
  stub::board() = stub::Board{};
  b.nvs.fill(24);
  const std::string bundle = tlsBundle(caChain(3));
  const std::size_t bundle_bytes = sus::serialize_bundle(sus::parse_bundle(bundle).bundle).size();
  b.console_in = {"wifi street-net pw", bundle};
  CHECK_THROWS_WITH(setup(), "the glue waits for more serial console input");
  CHECK(b.console_out.find("sus: bundle not stored: NVS refused " + std::to_string(bundle_bytes) +
                           " bytes (partition full?)\n") != std::string::npos);
  CHECK(!b.nvs.has("bundle"));
}

TEST_CASE("glue: the bundle's URLs are tried in order on the first connect, with the backoff, then the one that worked") {
  stub::board() = stub::Board{};
  stub::Board& b = stub::board();
  const std::string primary = "mqtt://primary.example:1883", fallback = "mqtt://fallback.example:1883";
  b.nvs.put_blob("bundle", R"({"device_id":"aq-glue-1","mqtt":{"urls":[")" + primary + R"(",")" + fallback +
                               R"("],"password":"pw"}})");
  b.nvs.put_string("wifi_ssid", "street-net");
  b.nvs.put_string("config", R"({"interval_s":30,"sensors":[]})");
  b.brokers = {{primary, false}, {fallback, true}};  // the first refuses the connection, the second accepts it
  setup();
  CHECK(b.mqtt_attempts == std::vector<std::string>{primary});
  loop();  // the refusal: the next URL, after the backoff
  CHECK(b.mqtt_uri == fallback);
  CHECK(b.mqtt_reconnects == 0);
  CHECK(b.console_out.find("sus: no MQTT connection, next try " + fallback + "\n") != std::string::npos);
  loop();  // the first delay (at most 1 s) is over: the second URL accepts
  CHECK(b.mqtt_attempts == std::vector<std::string>{primary, fallback});
  loop();
  CHECK(b.subscriptions == std::vector<std::string>{"sus/v1/devices/aq-glue-1/down/#"});
  REQUIRE(b.published.size() == 1);
  CHECK(b.published[0].topic == kUp);

  // Connected once, the device stays with that URL through an outage.
  b.brokers[fallback] = false;
  stub::mqtt_event(MQTT_EVENT_DISCONNECTED);
  loop();
  b.uptime_ms += 1000;
  loop();
  loop();
  CHECK(b.mqtt_uri == fallback);
  CHECK(b.mqtt_attempts == std::vector<std::string>{primary, fallback, fallback});
}

TEST_CASE("glue: an attempt made before Wi-Fi is up does not cost the bundle's first URL its turn") {
  stub::board() = stub::Board{};
  stub::Board& b = stub::board();
  const std::string primary = "mqtts://sus.example.org:8883", fallback = "mqtt://sus.example.org:1883";
  b.nvs.put_blob("bundle", sus::serialize_bundle(sus::parse_bundle(tlsBundle(caChain(1))).bundle));
  sus::Bundle two = sus::parse_bundle(b.nvs.at("bundle")).bundle;
  sus::MqttEndpoint plain;
  REQUIRE(sus::parse_mqtt_url(fallback, plain));
  two.endpoints.push_back(plain);
  b.nvs.put_blob("bundle", sus::serialize_bundle(two));
  b.nvs.put_string("wifi_ssid", "street-net");
  b.nvs.put_string("config", R"({"interval_s":30,"sensors":[]})");
  b.brokers = {{primary, true}, {fallback, true}};
  b.wifi_connected = false;  // WiFi.begin() has just been called: esp-mqtt's first attempt finds no network
  setup();
  loop();
  CHECK(b.mqtt_uri == primary);
  b.wifi_connected = true;
  b.uptime_ms += 1000;
  loop();
  loop();
  CHECK(b.mqtt_attempts == std::vector<std::string>{primary, primary});
  CHECK(b.mqtt_tls_ca);
  CHECK(b.subscriptions == std::vector<std::string>{"sus/v1/devices/aq-glue-1/down/#"});
  CHECK(b.console_out.find("next try") == std::string::npos);
}

TEST_CASE("glue: a deep-sleeping board keeps its backlog beyond NVS's string limit, the newest within the budget") {
  // A realistic bundle (6 KB with its CA chain) leaves the backlog ~5.5 KB of the 20 KB partition.
  provisionedForSleep(tlsBundle(caChain(3)));
  stub::Board& b = stub::board();
  std::size_t most = 0, before = 0;
  uint32_t taken = 0;
  std::vector<sus::Reading> kept;
  while (taken < 80) {
    before = kept.size();
    wakeOffline();
    ++taken;
    kept = storedBacklog();
    checkNewestKept(kept, taken);
    CHECK(b.nvs.at("seq") == std::to_string(taken + 1));
    most = std::max(most, kept.size());
  }
  // More than the ~35 readings a 4000-byte string holds; fewer than taken: the budget binds, and the console says so.
  CHECK(most > 40);
  CHECK(most < taken);
  CHECK(b.nvs.at("backlog").size() > stub::Nvs::kMaxStringBytes);
  CHECK(b.console_out.find("sus: backlog: the newest " + std::to_string(kept.size()) + " readings kept in NVS (" +
                           std::to_string(b.nvs.at("backlog").size()) + " bytes), " +
                           std::to_string(before + 1 - kept.size()) + " left out and counted\n") != std::string::npos);

  // The broker is back: every kept reading goes out, the first message saying how many were lost.
  b.brokers = {{"mqtts://sus.example.org:8883", true}};
  b.uptime_ms = 0;
  b.published.clear();
  setup();
  uint32_t reported = 0;
  std::vector<uint32_t> sent;
  bool asleep = false;  // once everything is acknowledged
  for (int i = 0; i < 10 && !asleep; ++i) {
    try {
      loop();
    } catch (const stub::DeepSleep&) {
      asleep = true;
    }
    for (const auto& p : b.published) {
      std::vector<sus::Reading> batch;
      REQUIRE(sus::decode_batch(p.payload.front() == '[' ? p.payload : "[" + p.payload + "]", batch));
      for (const auto& r : batch) {
        sent.push_back(r.seq);
        reported += r.dropped;
      }
      stub::mqtt_event(MQTT_EVENT_PUBLISHED, p.mid);
    }
    b.published.clear();
  }
  CHECK(asleep);
  CHECK(!b.nvs.has("backlog"));
  CHECK(sent.size() == kept.size() + 1);
  CHECK(sent.front() == kept.front().seq);
  CHECK(sent.back() == taken + 1);
  CHECK(reported == taken - kept.size());
}

TEST_CASE("glue: when NVS has less room than budgeted, no stale backlog comes back and every loss is counted") {
  provisionedForSleep(kBundle);
  stub::Board& b = stub::board();
  for (int i = 0; i < 20; ++i) wakeOffline();
  CHECK(storedBacklog().size() == 20);

  // Other data takes every free entry: the 21 readings do not fit beside the 20 stored, nor in their place; the
  // newest that do are kept, the rest counted in the oldest kept.
  b.nvs.fill(0);
  b.console_out.clear();
  wakeOffline();
  const std::vector<sus::Reading> kept = storedBacklog();
  checkNewestKept(kept, 21);
  CHECK(kept.size() < 20);
  CHECK(b.console_out.find("sus: backlog: the newest " + std::to_string(kept.size()) + " readings kept in NVS (") !=
        std::string::npos);
  CHECK(b.console_out.find("refused") == std::string::npos);

  // NVS full and no backlog to give room: not even one reading fits. The count is kept beside it and goes out with
  // the next reading.
  provisionedForSleep(kBundle);
  b.nvs.fill(4);
  wakeOffline();
  CHECK(!b.nvs.has("backlog"));
  CHECK(b.nvs.at("dropped") == "1");
  CHECK(b.nvs.at("seq") == "2");
  b.brokers = {{"mqtt://broker.example:1883", true}};
  b.uptime_ms = 0;
  setup();
  loop();
  REQUIRE(b.published.size() == 1);
  sus::Json reading = parse(b.published[0].payload);
  CHECK(reading.get("seq")->as_number() == 2);
  CHECK(reading.get("dropped")->as_number() == 1);
}

TEST_CASE("glue: always on, the offline backlog goes to NVS during an outage, survives a reset and goes when sent") {
  stub::board() = stub::Board{};
  stub::Board& b = stub::board();
  b.nvs.put_blob("bundle", kBundle);
  b.nvs.put_string("wifi_ssid", "street-net");
  b.nvs.put_string("config", R"({"interval_s":30,"sensors":[]})");  // under 60 s: no deep sleep
  setup();
  loop();  // no broker answers: the first reading of the outage goes to NVS at once
  CHECK(storedBacklog().size() == 1);
  CHECK(b.nvs.at("seq") == "2");
  for (int i = 1; i <= 9; ++i) {
    b.uptime_ms = i * 30000;
    loop();
  }
  CHECK(storedBacklog().size() == 1);  // not again within 5 minutes: every write wears the flash
  b.uptime_ms = 305000;
  loop();
  std::vector<sus::Reading> kept = storedBacklog();
  checkNewestKept(kept, 11);
  CHECK(kept.size() == 11);
  CHECK(b.nvs.at("seq") == "12");

  // Power cut; the broker is back by the time the board is.
  b.uptime_ms = 0;
  b.brokers = {{"mqtt://broker.example:1883", true}};
  setup();
  loop();
  REQUIRE(b.published.size() == 1);
  std::vector<sus::Reading> sent;
  REQUIRE(sus::decode_batch(b.published[0].payload, sent));
  REQUIRE(sent.size() == 11);
  for (std::size_t i = 0; i < sent.size(); ++i) {
    CHECK(sent[i].seq == kept[i].seq);
    CHECK(sent[i].time_ms == kept[i].time_ms);
  }
  CHECK(b.nvs.has("backlog"));  // until the broker acknowledged it
  stub::mqtt_event(MQTT_EVENT_PUBLISHED, b.published[0].mid);
  loop();
  REQUIRE(b.published.size() == 2);
  CHECK(parse(b.published[1].payload).get("seq")->as_number() == 12);
  stub::mqtt_event(MQTT_EVENT_PUBLISHED, b.published[1].mid);
  loop();
  CHECK(!b.nvs.has("backlog"));
  CHECK(!b.nvs.has("dropped"));
  CHECK(b.nvs.at("seq") == "13");
}

TEST_CASE("glue: a board whose bundle and backlog are NVS strings (older firmware) boots with them, then keeps blobs") {
  stub::board() = stub::Board{};
  stub::Board& b = stub::board();
  b.nvs.put_string("bundle", kBundle);
  b.nvs.put_string("wifi_ssid", "street-net");
  b.nvs.put_string("config", R"({"interval_s":600,"sensors":[]})");
  b.nvs.put_string("seq", "8");
  b.nvs.put_string("backlog", R"([{"time":1764000000000,"seq":6,"values":{"pm10":4}},)"
                              R"({"time":1764000600000,"seq":7,"values":{"pm10":5}}])");
  b.uptime_ms = 0;
  setup();
  CHECK(b.mqtt_uri == "mqtt://broker.example:1883");
  loop();
  b.uptime_ms = 20001;
  CHECK_THROWS_AS(loop(), stub::DeepSleep);
  const std::vector<sus::Reading> kept = storedBacklog();
  REQUIRE(kept.size() == 3);
  CHECK(kept[0].seq == 6);
  CHECK(kept[1].seq == 7);
  CHECK(kept[2].seq == 8);
}
