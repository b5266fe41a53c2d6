// The provisioning bundle: everything a device needs to join the platform (devices/esp32/README.md has the shape).
#pragma once

#include <string>
#include <vector>

namespace sus {

struct MqttEndpoint {
  std::string url;  // as given, e.g. mqtts://sus.example.org:8883
  bool tls = false;
  std::string host;  // a name, an IPv4 address, or an IPv6 address without its brackets
  int port = 0;
};

struct Bundle {
  std::string device_id;
  std::vector<MqttEndpoint> endpoints;  // tried in order; the next one after a failed connect
  std::string username;                 // defaults to the device id
  std::string password;
  std::string client_id;  // defaults to the device id (the broker accepts `id` or `id:suffix`)
  std::string ca_cert;    // PEM; required when an endpoint uses TLS
  std::string topic_up, topic_ack, topic_down;
};

struct BundleResult {
  bool ok = false;
  Bundle bundle;
  std::string error;
};

/**
 * Parses `mqtt://host[:port]` (also `tcp://`) and `mqtts://host[:port]` (also `ssl://`, `tls://`); default ports
 * 1883 / 8883; an IPv6 host in brackets (`mqtts://[::1]:8883`). A path after the host is ignored. False, `out`
 * untouched, for anything else: another scheme, credentials in the URL, an empty or malformed host or port.
 */
bool parse_mqtt_url(const std::string& url, MqttEndpoint& out);

/**
 * Parses and validates a bundle (JSON). Accepts snake_case and camelCase member names, and both `mqtt.urls` and
 * a top-level `mqtt_url(s)`, so a bundle from the API or from `sus device bundle` works unchanged. Topics default to
 * the contract's; a bundle whose topics do not belong to its device is refused (the broker would refuse them anyway).
 */
BundleResult parse_bundle(const std::string& json);

/** The canonical form that is stored (NVS on the ESP32, a file on the host) and read back with parse_bundle. */
std::string serialize_bundle(const Bundle& b);

}  // namespace sus
