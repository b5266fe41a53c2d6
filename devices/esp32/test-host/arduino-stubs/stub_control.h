// The scripted board behind the stubs: what the glue test sets up (console lines, NVS, sensor values, UART bytes)
// and what it reads back (publishes, subscriptions, deep sleep). Not part of any Arduino API.
#pragma once

#include <stdint.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "mqtt_client.h"
#include "nvs_model.h"

namespace stub {

/** Thrown by ESP.restart() and esp_deep_sleep_start(): the glue's [[noreturn]] exits end the test's setup()/loop(). */
struct Restart {};
struct DeepSleep {
  uint64_t wakeup_us;
};

struct Publish {
  std::string topic, payload;
  int qos;
  int mid;
};

struct Board {
  // Time since boot (esp_timer_get_time() / 1000); millis() is its low 32 bits, as on the ESP32, so it wraps after
  // 49.7 days. delay() advances it.
  int64_t uptime_ms = 0;
  std::deque<std::string> console_in;  // lines typed on the serial console (readStringUntil throws when empty)
  std::string console_out;
  Nvs nvs;  // the default partition (0x5000)
  std::deque<uint8_t> uart2;  // bytes the SDS011 sent
  bool wifi_connected = true;
  std::string wifi_ssid, wifi_pass;
  int i2c_sda = -1, i2c_scl = -1, uart2_rx = -1, uart2_tx = -1;
  float temperature = 21.5f, humidity = 40.0f, pressure = 101325.0f;
  std::vector<std::string> ntp_servers;
  uint64_t sleep_timer_us = 0;
  // esp-mqtt
  std::string mqtt_uri, mqtt_client_id, mqtt_username, mqtt_password;
  bool mqtt_tls_ca = false, mqtt_auto_reconnect = true, mqtt_started = false;
  int mqtt_reconnects = 0;
  // Brokers that answer by themselves: a start or reconnect to a URI listed here gets MQTT_EVENT_CONNECTED (true, and
  // Wi-Fi connected) or, like esp-mqtt after a refused CONNACK or without a network, MQTT_EVENT_ERROR then
  // MQTT_EVENT_DISCONNECTED. Other URIs get no answer until the test delivers one with mqtt_event().
  std::map<std::string, bool> brokers;
  std::vector<std::string> mqtt_attempts;  // the URI of every start and reconnect, in order
  std::vector<std::string> subscriptions;
  std::vector<Publish> published;
  int next_mid = 1;
  esp_event_handler_t mqtt_handler = nullptr;
  void* mqtt_handler_arg = nullptr;
};

/** The one board (reset it with `board() = Board{}`). */
Board& board();

/** Delivers an esp-mqtt event the way the client task does: through the handler the glue registered. */
void mqtt_event(esp_mqtt_event_id_t id, int msg_id = 0, const std::string& topic = {}, const std::string& data = {});

}  // namespace stub
