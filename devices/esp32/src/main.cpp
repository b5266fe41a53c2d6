// ESP32 glue for the SUS reference firmware: everything that decides what to send, when, and what to do with a
// downlink is in lib/sus_core (host-tested); this file only connects it to Wi-Fi, esp-mqtt, NVS, SNTP, the sensors
// and deep sleep. CI compiles and drives it on the host against test-host/arduino-stubs (the board build needs
// PlatformIO's toolchain): a call the stubs do not declare fails that build. Keep it thin.
//
// First boot: send the provisioning bundle (one line of JSON) and `wifi <ssid> <password>` over the serial console;
// both are stored in NVS. Intervals under 60 s keep the radio on; longer ones deep-sleep between readings, with the
// unacknowledged backlog kept in NVS.
#include <Arduino.h>
#include <Preferences.h>
#include <WiFi.h>
#include <Wire.h>
#include <esp_random.h>
#include <esp_sleep.h>
#include <esp_timer.h>
#include <mqtt_client.h>
#include <time.h>

#include <deque>
#include <mutex>

#include "sensors/bme280.h"
#include "sensors/sds011.h"
#include "sus/backoff.hpp"
#include "sus/bundle.hpp"
#include "sus/device_core.hpp"
#include "sus/reading.hpp"

namespace {

constexpr uint32_t kDeepSleepFromS = 60;
constexpr uint32_t kAwakeBudgetMs = 20000;  // longest time awake per deep-sleep cycle (battery)

class NvsStore : public sus::KeyValueStore {
 public:
  void begin() { prefs_.begin("sus", false); }
  bool get(const std::string& key, std::string& value) override {
    if (!prefs_.isKey(key.c_str())) return false;
    value = prefs_.getString(key.c_str()).c_str();
    return true;
  }
  bool set(const std::string& key, const std::string& value) override {
    return prefs_.putString(key.c_str(), value.c_str()) == value.size();
  }

 private:
  Preferences prefs_;
};

/** esp-mqtt runs its own task: events are queued here and handed to the core from loop(), never concurrently. */
struct MqttEvent {
  enum Kind { Connected, Disconnected, Published, Data } kind = Published;
  int mid = 0;
  std::string topic, payload;
};

class EspMqttTransport : public sus::Transport {
 public:
  bool connected() const override { return connected_; }
  int publish(const std::string& topic, const std::string& payload) override {
    if (!client_ || !connected_) return -1;
    int mid = esp_mqtt_client_publish(client_, topic.c_str(), payload.data(), payload.size(), 1, 0);
    return mid > 0 ? mid : -1;
  }

  void start(const sus::Bundle& b, const sus::MqttEndpoint& ep) {
    esp_mqtt_client_config_t cfg = {};
    uri_ = ep.url;
    cfg.uri = uri_.c_str();
    cfg.client_id = b.client_id.c_str();
    cfg.username = b.username.c_str();
    cfg.password = b.password.c_str();
    if (ep.tls) cfg.cert_pem = b.ca_cert.c_str();  // the bundle's CA: no public CA store on the device
    cfg.disable_auto_reconnect = true;             // the core's backoff with jitter decides when to retry
    client_ = esp_mqtt_client_init(&cfg);
    esp_mqtt_client_register_event(client_, MQTT_EVENT_ANY, &EspMqttTransport::onEvent, this);
    esp_mqtt_client_start(client_);
  }
  void reconnect() {
    if (client_) esp_mqtt_client_reconnect(client_);
  }
  void subscribe(const std::string& filter) { esp_mqtt_client_subscribe(client_, filter.c_str(), 1); }
  bool poll(MqttEvent& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (events_.empty()) return false;
    e = std::move(events_.front());
    events_.pop_front();
    return true;
  }
  void setConnected(bool c) { connected_ = c; }

 private:
  static void onEvent(void* self, esp_event_base_t, int32_t id, void* data) {
    auto* t = static_cast<EspMqttTransport*>(self);
    auto* ev = static_cast<esp_mqtt_event_handle_t>(data);
    MqttEvent e;
    switch (id) {
      case MQTT_EVENT_CONNECTED: e.kind = MqttEvent::Connected; break;
      case MQTT_EVENT_DISCONNECTED: e.kind = MqttEvent::Disconnected; break;
      case MQTT_EVENT_PUBLISHED: e.mid = ev->msg_id; break;
      case MQTT_EVENT_DATA:
        // Downlinks are small (the platform caps them at 16 KB); a fragmented message is dropped, not half-applied.
        if (ev->current_data_offset != 0 || ev->data_len != ev->total_data_len) return;
        e.kind = MqttEvent::Data;
        e.topic.assign(ev->topic, ev->topic_len);
        e.payload.assign(ev->data, ev->data_len);
        break;
      default: return;
    }
    std::lock_guard<std::mutex> lock(t->mutex_);
    t->events_.push_back(std::move(e));
  }

  esp_mqtt_client_handle_t client_ = nullptr;
  std::string uri_;
  volatile bool connected_ = false;
  std::mutex mutex_;
  std::deque<MqttEvent> events_;
};

NvsStore store;
EspMqttTransport transport;
sus::TimeSync timeSync;
Bme280Sensor bme;
Sds011Sensor sds(Serial2);
sus::Bundle bundle;
sus::DeviceCore* core = nullptr;
sus::Backoff backoff(1000, 300000, [] { return esp_random(); });
int64_t nextAttemptMs = 0;

/** Milliseconds since boot in 64 bits: millis() wraps after 49.7 days, and the schedule with it. */
int64_t uptimeMs() { return esp_timer_get_time() / 1000; }

void provisionOverSerial() {
  Serial.println("sus: no bundle in NVS. Paste the provisioning bundle (one line of JSON), then: wifi <ssid> <pass>");
  std::string ssid;
  bool haveBundle = false, haveWifi = store.get("wifi_ssid", ssid);
  while (!haveBundle || !haveWifi) {
    String line = Serial.readStringUntil('\n');
    line.trim();
    if (line.startsWith("wifi ")) {
      int sp = line.indexOf(' ', 5);
      store.set("wifi_ssid", line.substring(5, sp).c_str());
      store.set("wifi_pass", sp > 0 ? line.substring(sp + 1).c_str() : "");
      haveWifi = true;
    } else if (line.startsWith("{")) {
      sus::BundleResult r = sus::parse_bundle(line.c_str());
      if (!r.ok) {
        Serial.printf("sus: %s\n", r.error.c_str());
        continue;
      }
      store.set("bundle", sus::serialize_bundle(r.bundle));
      haveBundle = true;
    }
  }
  ESP.restart();
}

void syncTime() {
  time_t now = time(nullptr);
  timeSync.on_sync(static_cast<int64_t>(now) * 1000, uptimeMs());
}

void saveBacklogAndSleep(uint32_t seconds) {
  // Unacknowledged readings survive the sleep in NVS (RTC memory is too small for a long outage).
  store.set("backlog", core->export_backlog().batch);
  store.set("seq", std::to_string(core->next_seq()));
  esp_sleep_enable_timer_wakeup(static_cast<uint64_t>(seconds) * 1000000ULL);
  esp_deep_sleep_start();
}

}  // namespace

void setup() {
  Serial.begin(115200);
  store.begin();
  std::string text;
  if (!store.get("bundle", text)) provisionOverSerial();
  sus::BundleResult parsed = sus::parse_bundle(text);
  if (!parsed.ok) provisionOverSerial();
  bundle = parsed.bundle;

  Wire.begin(SUS_I2C_SDA, SUS_I2C_SCL);
  bme.begin();
  sds.begin(SUS_SDS011_RX, SUS_SDS011_TX);

  std::string ssid, pass;
  store.get("wifi_ssid", ssid);
  store.get("wifi_pass", pass);
  WiFi.mode(WIFI_STA);
  WiFi.begin(ssid.c_str(), pass.c_str());
  // SNTP: readings get their time from the offset once this succeeds (never a 1970 timestamp).
  configTime(0, 0, "pool.ntp.org", "time.cloudflare.com");

  sus::CoreOptions options;
  std::string seq;
  if (store.get("seq", seq)) options.first_seq = static_cast<uint32_t>(strtoul(seq.c_str(), nullptr, 10));
  static sus::DeviceCore c(bundle, transport, {&bme, &sds}, &store, timeSync, options);
  core = &c;
  core->restore();
  std::string backlog;
  if (store.get("backlog", backlog)) core->import_backlog(backlog);
  transport.start(bundle, bundle.endpoints.front());
}

void loop() {
  const int64_t now = uptimeMs();
  syncTime();
  MqttEvent e;
  while (transport.poll(e)) {
    switch (e.kind) {
      case MqttEvent::Connected:
        transport.setConnected(true);
        backoff.reset();
        transport.subscribe(bundle.topic_down);
        core->on_connected();
        break;
      case MqttEvent::Disconnected:
        transport.setConnected(false);
        core->on_disconnected();
        nextAttemptMs = now + backoff.next_delay_ms();
        break;
      case MqttEvent::Published: core->on_puback(e.mid); break;
      case MqttEvent::Data: core->on_message(e.topic, e.payload); break;
    }
  }
  if (!transport.connected() && WiFi.isConnected() && nextAttemptMs != 0 && now >= nextAttemptMs) {
    nextAttemptMs = 0;
    transport.reconnect();
  }
  core->loop(now);

  const uint32_t interval = core->config().interval_s;
  if (interval >= kDeepSleepFromS && (core->backlog() == 0 || now > kAwakeBudgetMs)) {
    saveBacklogAndSleep(interval);
  }
  delay(50);
}
