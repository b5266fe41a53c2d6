// The stubs' definitions: each call either records what the glue asked for or answers from the scripted board.
#include <stdarg.h>
#include <stdio.h>

#include <stdexcept>
#include <string>

#include "Adafruit_BME280.h"
#include "Arduino.h"
#include "Preferences.h"
#include "WiFi.h"
#include "Wire.h"
#include "esp_random.h"
#include "esp_sleep.h"
#include "esp_timer.h"
#include "mqtt_client.h"
#include "stub_control.h"

namespace stub {

Board& board() {
  static Board b;
  return b;
}

void mqtt_event(esp_mqtt_event_id_t id, int msg_id, const std::string& topic, const std::string& data) {
  Board& b = board();
  if (!b.mqtt_handler) throw std::logic_error("no esp-mqtt event handler registered");
  std::string t = topic, d = data;
  esp_mqtt_event_t e{};
  e.event_id = id;
  e.msg_id = msg_id;
  e.topic = t.data();
  e.topic_len = static_cast<int>(t.size());
  e.data = d.data();
  e.data_len = static_cast<int>(d.size());
  e.total_data_len = e.data_len;
  b.mqtt_handler(b.mqtt_handler_arg, "MQTT_EVENTS", id, &e);
}

}  // namespace stub

using stub::board;

// Arduino core
unsigned long millis() { return static_cast<uint32_t>(board().uptime_ms); }
void delay(uint32_t ms) { board().uptime_ms += ms; }
int64_t esp_timer_get_time(void) { return board().uptime_ms * 1000; }
void configTime(long, int, const char* server1, const char* server2, const char* server3) {
  for (const char* s : {server1, server2, server3}) {
    if (s) board().ntp_servers.emplace_back(s);
  }
}

EspClass ESP;
void EspClass::restart() { throw stub::Restart{}; }

void String::trim() {
  const char* ws = " \t\r\n\f\v";
  std::size_t end = s_.find_last_not_of(ws);
  s_.erase(end == std::string::npos ? 0 : end + 1);
  s_.erase(0, s_.find_first_not_of(ws));
}
int String::indexOf(char ch, unsigned int fromIndex) const {
  std::size_t at = s_.find(ch, fromIndex);
  return at == std::string::npos ? -1 : static_cast<int>(at);
}
String String::substring(unsigned int beginIndex, unsigned int endIndex) const {
  if (beginIndex > endIndex) std::swap(beginIndex, endIndex);
  if (beginIndex >= s_.size()) return String();
  if (endIndex > s_.size()) endIndex = static_cast<unsigned int>(s_.size());
  return String(s_.substr(beginIndex, endIndex - beginIndex));
}

HardwareSerial Serial(0);
HardwareSerial Serial2(2);
void HardwareSerial::begin(unsigned long, uint32_t, int8_t rxPin, int8_t txPin, bool, unsigned long, uint8_t) {
  if (uart_nr_ != 2) return;
  board().uart2_rx = rxPin;
  board().uart2_tx = txPin;
}
int HardwareSerial::available() { return uart_nr_ == 2 ? static_cast<int>(board().uart2.size()) : 0; }
int HardwareSerial::peek() { return uart_nr_ == 2 && !board().uart2.empty() ? board().uart2.front() : -1; }
int HardwareSerial::read() {
  int c = peek();
  if (c >= 0) board().uart2.pop_front();
  return c;
}
size_t HardwareSerial::readBytes(char* buffer, size_t length) {
  size_t n = 0;
  for (int c; n < length && (c = read()) >= 0; ++n) buffer[n] = static_cast<char>(c);
  return n;
}
String HardwareSerial::readStringUntil(char) {
  // The real call returns "" after its timeout and the glue asks again: an empty script would spin forever.
  if (board().console_in.empty()) throw std::runtime_error("the glue waits for more serial console input");
  std::string line = board().console_in.front();
  board().console_in.pop_front();
  return String(line);
}
size_t HardwareSerial::println(const char* s) {
  board().console_out += s;
  board().console_out += '\n';
  return strlen(s) + 1;
}
size_t HardwareSerial::printf(const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  board().console_out += buf;
  return n < 0 ? 0 : static_cast<size_t>(n);
}

// NVS through Preferences: one namespace is all the glue opens. Failures answer the way arduino-esp32 2.0.x does
// (0, false, the default value), after the model said what ESP-IDF would.
bool Preferences::begin(const char* name, bool readOnly, const char*) {
  if (started_ || board().nvs.open(name) != stub::Nvs::Result::Ok) return false;
  read_only_ = readOnly;
  return started_ = true;
}
bool Preferences::remove(const char* key) {
  return started_ && key && !read_only_ && board().nvs.erase(key) == stub::Nvs::Result::Ok;
}
size_t Preferences::putString(const char* key, const char* value) {
  if (!started_ || !key || !value || read_only_) return 0;
  return board().nvs.set(key, stub::Nvs::Type::Str, value) == stub::Nvs::Result::Ok ? strlen(value) : 0;
}
size_t Preferences::putBytes(const char* key, const void* value, size_t len) {
  if (!started_ || !key || !value || !len || read_only_) return 0;
  std::string bytes(static_cast<const char*>(value), len);
  return board().nvs.set(key, stub::Nvs::Type::Blob, bytes) == stub::Nvs::Result::Ok ? len : 0;
}
bool Preferences::isKey(const char* key) { return getType(key) != PT_INVALID; }
PreferenceType Preferences::getType(const char* key) {
  if (!started_ || !key || strlen(key) > 15 || !board().nvs.has(key)) return PT_INVALID;
  switch (board().nvs.type(key)) {
    case stub::Nvs::Type::U32: return PT_U32;
    case stub::Nvs::Type::Str: return PT_STR;
    case stub::Nvs::Type::Blob: return PT_BLOB;
  }
  return PT_INVALID;
}
String Preferences::getString(const char* key, String defaultValue) {
  std::string value;
  if (!started_ || !key || board().nvs.get(key, stub::Nvs::Type::Str, value) != stub::Nvs::Result::Ok) return defaultValue;
  return String(value);
}
size_t Preferences::getBytesLength(const char* key) {
  std::string value;
  if (!started_ || !key || board().nvs.get(key, stub::Nvs::Type::Blob, value) != stub::Nvs::Result::Ok) return 0;
  return value.size();
}
size_t Preferences::getBytes(const char* key, void* buf, size_t maxLen) {
  const size_t len = getBytesLength(key);
  if (!len || !buf || !maxLen) return len;
  if (len > maxLen) return 0;
  std::string value;
  board().nvs.get(key, stub::Nvs::Type::Blob, value);
  memcpy(buf, value.data(), len);
  return len;
}

WiFiClass WiFi;
bool WiFiClass::mode(wifi_mode_t) { return true; }
wl_status_t WiFiClass::begin(const char* ssid, const char* passphrase, int32_t, const uint8_t*, bool) {
  board().wifi_ssid = ssid;
  board().wifi_pass = passphrase ? passphrase : "";
  return WL_DISCONNECTED;
}
bool WiFiClass::isConnected() { return board().wifi_connected; }

TwoWire Wire;
bool TwoWire::begin(int sda, int scl, uint32_t) {
  board().i2c_sda = sda;
  board().i2c_scl = scl;
  return true;
}

bool Adafruit_BME280::begin(uint8_t, TwoWire*) { return true; }
float Adafruit_BME280::readTemperature() { return board().temperature; }
float Adafruit_BME280::readPressure() { return board().pressure; }
float Adafruit_BME280::readHumidity() { return board().humidity; }

uint32_t esp_random(void) { return 0x9E3779B9u; }

esp_err_t esp_sleep_enable_timer_wakeup(uint64_t time_in_us) {
  board().sleep_timer_us = time_in_us;
  return ESP_OK;
}
void esp_deep_sleep_start(void) { throw stub::DeepSleep{board().sleep_timer_us}; }

// esp-mqtt: one client; the glue's config strings are copied because it may free them after init.
struct esp_mqtt_client {};
static esp_mqtt_client the_client;

esp_mqtt_client_handle_t esp_mqtt_client_init(const esp_mqtt_client_config_t* config) {
  stub::Board& b = board();
  b.mqtt_uri = config->uri ? config->uri : "";
  b.mqtt_client_id = config->client_id ? config->client_id : "";
  b.mqtt_username = config->username ? config->username : "";
  b.mqtt_password = config->password ? config->password : "";
  b.mqtt_tls_ca = config->cert_pem != nullptr;
  b.mqtt_auto_reconnect = !config->disable_auto_reconnect;
  return &the_client;
}
/** A connect attempt to the current URI: a scripted broker answers at once (see Board::brokers). */
static void attempt() {
  stub::Board& b = board();
  b.mqtt_attempts.push_back(b.mqtt_uri);
  auto broker = b.brokers.find(b.mqtt_uri);
  if (broker == b.brokers.end()) return;
  if (broker->second && b.wifi_connected) return stub::mqtt_event(MQTT_EVENT_CONNECTED);
  stub::mqtt_event(MQTT_EVENT_ERROR);
  stub::mqtt_event(MQTT_EVENT_DISCONNECTED);
}
esp_err_t esp_mqtt_client_set_uri(esp_mqtt_client_handle_t, const char* uri) {
  board().mqtt_uri = uri;
  return ESP_OK;
}
esp_err_t esp_mqtt_client_start(esp_mqtt_client_handle_t) {
  board().mqtt_started = true;
  attempt();
  return ESP_OK;
}
esp_err_t esp_mqtt_client_reconnect(esp_mqtt_client_handle_t) {
  ++board().mqtt_reconnects;
  attempt();
  return ESP_OK;
}
int esp_mqtt_client_subscribe(esp_mqtt_client_handle_t, const char* topic, int) {
  board().subscriptions.emplace_back(topic);
  return board().next_mid++;
}
int esp_mqtt_client_publish(esp_mqtt_client_handle_t, const char* topic, const char* data, int len, int qos, int) {
  stub::Board& b = board();
  b.published.push_back({topic, std::string(data, static_cast<std::size_t>(len)), qos, b.next_mid});
  return b.next_mid++;
}
esp_err_t esp_mqtt_client_register_event(esp_mqtt_client_handle_t, esp_mqtt_event_id_t, esp_event_handler_t handler,
                                         void* arg) {
  board().mqtt_handler = handler;
  board().mqtt_handler_arg = arg;
  return ESP_OK;
}
