// ESP32 glue for the SUS reference firmware: everything that decides what to send, when, and what to do with a
// downlink is in lib/sus_core (host-tested); this file only connects it to Wi-Fi, esp-mqtt, NVS, SNTP, the sensors
// and deep sleep. CI compiles and drives it on the host against test-host/arduino-stubs (the board build needs
// PlatformIO's toolchain): a call the stubs do not declare fails that build. Keep it thin.
//
// First boot: send the provisioning bundle (one line of JSON) and `wifi <ssid> <password>` over the serial console;
// both are stored in NVS. Intervals under 60 s keep the radio on; longer ones deep-sleep between readings, with the
// unacknowledged backlog kept in NVS within its budget (nvs_store.h); always on, it goes to NVS during an outage.
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
#include <optional>

#include "nvs_store.h"
#include "sensors/bme280.h"
#include "sensors/sds011.h"
#include "sus/backoff.hpp"
#include "sus/bundle.hpp"
#include "sus/device_core.hpp"
#include "sus/endpoint_order.hpp"
#include "sus/reading.hpp"

namespace {

constexpr uint32_t kDeepSleepFromS = 60;
constexpr uint32_t kAwakeBudgetMs = 20000;  // longest time awake per deep-sleep cycle (battery)
constexpr int64_t kBacklogSaveEveryMs = 300000;  // always on: the offline backlog to NVS at most this often (wear)

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
    // The bundle's CA (no public CA store on the device), also when the first URL is plain: a later one may be TLS.
    if (!b.ca_cert.empty()) cfg.cert_pem = b.ca_cert.c_str();
    cfg.disable_auto_reconnect = true;  // the core's backoff with jitter decides when to retry
    client_ = esp_mqtt_client_init(&cfg);
    esp_mqtt_client_register_event(client_, MQTT_EVENT_ANY, &EspMqttTransport::onEvent, this);
    esp_mqtt_client_start(client_);
  }
  /** The URL of the next connect attempt. */
  void useEndpoint(const sus::MqttEndpoint& ep) {
    uri_ = ep.url;
    if (client_) esp_mqtt_client_set_uri(client_, uri_.c_str());
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

/**
 * What one boot sets up. A wake from deep sleep starts again from nothing but NVS and the RTC clock, and so does
 * each setup() of the host test.
 */
struct BootState {
  NvsStore store;
  EspMqttTransport transport;
  sus::TimeSync timeSync;
  Bme280Sensor bme;
  Sds011Sensor sds{Serial2};
  sus::Bundle bundle;
  sus::Backoff backoff{1000, 300000, [] { return esp_random(); }};
  sus::EndpointOrder endpoints{0};
  std::optional<sus::DeviceCore> core;
  std::size_t backlogBudget = 0;
  int64_t nextAttemptMs = 0;
  // Whether Wi-Fi was up when the pending attempt started: one made before (esp-mqtt's first, right after
  // WiFi.begin) fails for want of a network, and must not cost the bundle's first URL its turn.
  bool attemptOnline = false;
  bool backlogInNvs = false;      // NVS holds a backlog or a count of lost readings that may be stale now
  int64_t backlogSavedMs = -1;    // when the always-on board last wrote its offline backlog; -1: not in this outage
};
std::optional<BootState> device;

/** Milliseconds since boot in 64 bits: millis() wraps after 49.7 days, and the schedule with it. */
int64_t uptimeMs() { return esp_timer_get_time() / 1000; }

[[noreturn]] void provisionOverSerial(NvsStore& store) {
  Serial.println("sus: no bundle in NVS. Paste the provisioning bundle (one line of JSON), then: wifi <ssid> <pass>");
  std::string ssid;
  bool haveBundle = false, haveWifi = store.get("wifi_ssid", ssid);
  while (!haveBundle || !haveWifi) {
    String line = Serial.readStringUntil('\n');
    line.trim();
    if (line.startsWith("wifi ")) {
      int sp = line.indexOf(' ', 5);
      haveWifi = store.set("wifi_ssid", line.substring(5, sp).c_str()) &&
                 store.set("wifi_pass", sp > 0 ? line.substring(sp + 1).c_str() : "");
      if (!haveWifi) Serial.println("sus: Wi-Fi credentials not stored: NVS refused them");
    } else if (line.startsWith("{")) {
      sus::BundleResult r = sus::parse_bundle(line.c_str());
      if (!r.ok) {
        Serial.printf("sus: %s\n", r.error.c_str());
        continue;
      }
      // Checked here, not found out after the restart: a bundle NVS did not keep would ask for itself again.
      const std::string text = sus::serialize_bundle(r.bundle);
      if (text.size() > nvs::kBundleMaxBytes) {
        Serial.printf("sus: bundle refused: %u bytes, NVS keeps at most %u for it (is the CA chain longer than needed?)\n",
                      static_cast<unsigned>(text.size()), static_cast<unsigned>(nvs::kBundleMaxBytes));
        continue;
      }
      if (!store.setBlob("bundle", text)) {
        Serial.printf("sus: bundle not stored: NVS refused %u bytes (partition full?)\n",
                      static_cast<unsigned>(text.size()));
        continue;
      }
      haveBundle = true;
    }
  }
  ESP.restart();
}

void syncTime(BootState& d) {
  time_t now = time(nullptr);
  d.timeSync.on_sync(static_cast<int64_t>(now) * 1000, uptimeMs());
}

/** The unacknowledged backlog, the count of lost readings and the next seq to NVS, for the next boot. */
void saveState(BootState& d) {
  // The readings and their count go first: in a nearly full NVS a lost seq only repeats numbers, a lost count would
  // hide a loss.
  BacklogSave s = saveBacklog(d.store, *d.core, d.backlogBudget);
  if (s.left_out > 0) {
    Serial.printf("sus: backlog: the newest %u readings kept in NVS (%u bytes), %u left out and counted\n",
                  static_cast<unsigned>(s.kept), static_cast<unsigned>(s.bytes), static_cast<unsigned>(s.left_out));
  }
  if (!s.stored) Serial.println("sus: NVS refused the backlog: its readings and their count are lost");
  d.backlogInNvs = s.kept > 0 || s.dropped > 0;
  if (!d.store.set("seq", std::to_string(d.core->next_seq()))) Serial.println("sus: NVS refused the next seq");
}

[[noreturn]] void saveStateAndSleep(BootState& d, uint32_t seconds) {
  // Unacknowledged readings survive the sleep in NVS (RTC memory is too small for a long outage).
  saveState(d);
  esp_sleep_enable_timer_wakeup(static_cast<uint64_t>(seconds) * 1000000ULL);
  esp_deep_sleep_start();
}

/**
 * Always on (intervals under 60 s), a power cut or a watchdog reset would take the RAM backlog with it. While the
 * broker is out of reach the backlog goes to NVS at once and then at most every 5 minutes (each write wears the
 * flash); once the broker acknowledged all of it the copy goes, so nothing stale comes back after a reset.
 */
void keepBacklogThroughReset(BootState& d, int64_t now) {
  if (d.core->backlog() > 0 && !d.transport.connected()) {
    if (d.backlogSavedMs >= 0 && now - d.backlogSavedMs < kBacklogSaveEveryMs) return;
    saveState(d);
    d.backlogSavedMs = now;
  } else if (d.core->backlog() == 0 && d.backlogInNvs) {
    saveState(d);  // an empty backlog: the keys go, the seq stays current
    d.backlogSavedMs = -1;
  }
}

}  // namespace

void setup() {
  Serial.begin(115200);
  BootState& d = device.emplace();
  d.store.begin();
  std::string text;
  if (!d.store.get("bundle", text)) provisionOverSerial(d.store);
  sus::BundleResult parsed = sus::parse_bundle(text);
  if (!parsed.ok) provisionOverSerial(d.store);
  d.bundle = parsed.bundle;
  d.backlogBudget = nvs::backlogBudget(text.size());
  d.endpoints = sus::EndpointOrder(d.bundle.endpoints.size());

  Wire.begin(SUS_I2C_SDA, SUS_I2C_SCL);
  d.bme.begin();
  d.sds.begin(SUS_SDS011_RX, SUS_SDS011_TX);

  std::string ssid, pass;
  d.store.get("wifi_ssid", ssid);
  d.store.get("wifi_pass", pass);
  WiFi.mode(WIFI_STA);
  WiFi.begin(ssid.c_str(), pass.c_str());
  // SNTP: readings get their time from the offset once this succeeds (never a 1970 timestamp).
  configTime(0, 0, "pool.ntp.org", "time.cloudflare.com");

  sus::CoreOptions options;
  std::string seq, backlog, dropped;
  if (d.store.get("seq", seq)) options.first_seq = static_cast<uint32_t>(strtoul(seq.c_str(), nullptr, 10));
  d.core.emplace(d.bundle, d.transport, std::vector<sus::Sensor*>{&d.bme, &d.sds}, &d.store, d.timeSync, options);
  d.core->restore();
  d.backlogInNvs = d.store.get("backlog", backlog);
  if (d.backlogInNvs && !d.core->import_backlog(backlog)) {
    Serial.println("sus: the backlog in NVS is not a batch of readings; left out");
  }
  // Readings lost before the last sleep that no kept reading reports: the next one taken does.
  if (d.store.get("dropped", dropped)) {
    d.backlogInNvs = true;
    d.core->count_dropped(static_cast<uint32_t>(strtoul(dropped.c_str(), nullptr, 10)));
  }
  d.attemptOnline = WiFi.isConnected();
  d.transport.start(d.bundle, d.bundle.endpoints.front());
}

void loop() {
  BootState& d = *device;
  const int64_t now = uptimeMs();
  syncTime(d);
  MqttEvent e;
  while (d.transport.poll(e)) {
    switch (e.kind) {
      case MqttEvent::Connected:
        d.transport.setConnected(true);
        d.backoff.reset();
        d.endpoints.on_connected();
        d.transport.subscribe(d.bundle.topic_down);
        d.core->on_connected();
        break;
      case MqttEvent::Disconnected:
        // Also what esp-mqtt reports after a failed attempt: before the first connection, the next URL is tried.
        d.transport.setConnected(false);
        d.core->on_disconnected();
        d.nextAttemptMs = now + d.backoff.next_delay_ms();
        if (d.attemptOnline && d.endpoints.on_failed()) {
          const sus::MqttEndpoint& next = d.bundle.endpoints[d.endpoints.current()];
          d.transport.useEndpoint(next);
          Serial.printf("sus: no MQTT connection, next try %s\n", next.url.c_str());
        }
        break;
      case MqttEvent::Published: d.core->on_puback(e.mid); break;
      case MqttEvent::Data: d.core->on_message(e.topic, e.payload); break;
    }
  }
  if (!d.transport.connected() && WiFi.isConnected() && d.nextAttemptMs != 0 && now >= d.nextAttemptMs) {
    d.nextAttemptMs = 0;
    d.attemptOnline = true;
    d.transport.reconnect();
  }
  d.core->loop(now);

  const uint32_t interval = d.core->config().interval_s;
  if (interval >= kDeepSleepFromS && (d.core->backlog() == 0 || now > kAwakeBudgetMs)) {
    saveStateAndSleep(d, interval);
  }
  if (interval < kDeepSleepFromS) keepBacklogThroughReset(d, now);
  delay(50);
}
