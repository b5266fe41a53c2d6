#include "sus/bundle.hpp"

#include <algorithm>
#include <cstdlib>

#include "sus/json.hpp"
#include "sus/topics.hpp"

namespace sus {

static bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static bool hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/** A dotted quad, each part 0..255 in at most three digits: the tail of `::ffff:192.0.2.1`. */
static bool ipv4_text(const std::string& s) {
  int parts = 0, digits = 0, value = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (digits == 0 || value > 255) return false;
      ++parts;
      digits = value = 0;
    } else if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
      value = value * 10 + (s[i] - '0');
      ++digits;
    } else {
      return false;
    }
  }
  return parts == 4;
}

/**
 * An IPv6 address in the text forms of RFC 4291 2.2: eight groups of 1-4 hex digits, one `::` for a run of zero
 * groups, an IPv4 tail for the last two. No zone id (`%eth0`): a link-local broker is no place for a street device.
 */
static bool ipv6_text(const std::string& s) {
  const std::size_t gap = s.find("::");
  if (gap != std::string::npos && s.find("::", gap + 1) != std::string::npos) return false;
  int groups = 0;
  // The groups left and right of the `::` (or of the whole text): none empty, only the very last may be IPv4.
  auto count = [&groups, &s](std::size_t from, std::size_t to) {
    if (from == to) return true;
    for (std::size_t start = from;;) {
      const std::size_t end = std::min(s.find(':', start), to);
      const std::string group = s.substr(start, end - start);
      if (end == to && group.find('.') != std::string::npos) {
        if (!ipv4_text(group)) return false;
        groups += 2;
        return true;
      }
      if (group.empty() || group.size() > 4 || !std::all_of(group.begin(), group.end(), hex_digit)) return false;
      ++groups;
      if (end == to) return true;
      start = end + 1;
    }
  };
  if (gap == std::string::npos) return count(0, s.size()) && groups == 8;
  // A left part ending in an IPv4 tail (`1.2.3.4::`) is no address either.
  if (s.substr(0, gap).find('.') != std::string::npos) return false;
  return count(0, gap) && count(gap + 2, s.size()) && groups <= 7;
}

bool parse_mqtt_url(const std::string& url, MqttEndpoint& out) {
  std::size_t sep = url.find("://");
  if (sep == std::string::npos) return false;
  std::string scheme = url.substr(0, sep);
  bool tls;
  if (scheme == "mqtt" || scheme == "tcp") tls = false;
  else if (scheme == "mqtts" || scheme == "ssl" || scheme == "tls") tls = true;
  else return false;
  std::string authority = url.substr(sep + 3);
  authority.resize(std::min(authority.size(), authority.find_first_of("/?#")));
  std::string host;
  std::size_t port_at = std::string::npos;  // where the port's digits start, after the ':'
  if (!authority.empty() && authority[0] == '[') {
    // An IPv6 literal (RFC 3986): the brackets keep its colons apart from the port's.
    std::size_t close = authority.find(']');
    if (close == std::string::npos) return false;
    host = authority.substr(1, close - 1);
    if (!ipv6_text(host)) return false;
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return false;
      port_at = close + 2;
    }
  } else {
    // A name or an IPv4 address; credentials (`user:pass@`) belong in the bundle's username and password.
    std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    for (char c : host) {
      if (!host_char(c)) return false;
    }
    if (colon != std::string::npos) port_at = colon + 1;
  }
  if (host.empty()) return false;
  int port = tls ? 8883 : 1883;
  if (port_at != std::string::npos) {
    std::string p = authority.substr(port_at);
    if (p.empty() || p.size() > 5) return false;
    for (char c : p) {
      if (c < '0' || c > '9') return false;
    }
    port = std::atoi(p.c_str());
    if (port < 1 || port > 65535) return false;
  }
  out.url = url;
  out.tls = tls;
  out.host = host;
  out.port = port;
  return true;
}

static std::string str_member(const Json& obj, std::initializer_list<const char*> keys) {
  const Json* v = obj.get_any(keys);
  return v && v->is_string() ? v->as_string() : std::string();
}

BundleResult parse_bundle(const std::string& text) {
  BundleResult r;
  JsonResult j = parse_json(text);
  if (!j.ok) {
    r.error = "bundle is not JSON: " + j.error;
    return r;
  }
  if (!j.value.is_object()) {
    r.error = "bundle must be a JSON object";
    return r;
  }
  const Json& root = j.value;
  Bundle& b = r.bundle;
  b.device_id = str_member(root, {"device_id", "deviceId", "device", "id"});
  if (!valid_device_id(b.device_id)) {
    r.error = "bundle: device_id missing or invalid";
    return r;
  }
  const Json* mqtt = root.get("mqtt");
  const Json& m = mqtt && mqtt->is_object() ? *mqtt : root;
  std::vector<std::string> urls;
  if (const Json* list = m.get_any({"urls", "mqtt_urls", "mqttUrls"}); list && list->is_array()) {
    for (const auto& u : list->items()) {
      if (u.is_string()) urls.push_back(u.as_string());
    }
  }
  if (std::string one = str_member(m, {"url", "mqtt_url", "mqttUrl"}); !one.empty()) urls.push_back(one);
  if (urls.empty()) {
    r.error = "bundle: no MQTT url";
    return r;
  }
  for (const auto& u : urls) {
    MqttEndpoint ep;
    if (!parse_mqtt_url(u, ep)) {
      r.error = "bundle: bad MQTT url " + u;
      return r;
    }
    b.endpoints.push_back(ep);
  }
  b.username = str_member(m, {"username", "user"});
  if (b.username.empty()) b.username = str_member(root, {"username"});
  if (b.username.empty()) b.username = b.device_id;
  b.password = str_member(m, {"password", "secret"});
  if (b.password.empty()) b.password = str_member(root, {"password", "secret"});
  if (b.password.empty()) {
    r.error = "bundle: password missing";
    return r;
  }
  b.client_id = str_member(m, {"client_id", "clientId"});
  if (b.client_id.empty()) b.client_id = b.device_id;
  if (b.client_id != b.device_id && b.client_id.rfind(b.device_id + ":", 0) != 0) {
    r.error = "bundle: client_id must be the device id or id:suffix";
    return r;
  }
  b.ca_cert = str_member(m, {"ca_cert", "caCert", "caCertificate", "ca_certificate", "ca"});
  if (b.ca_cert.empty()) b.ca_cert = str_member(root, {"ca_cert", "caCert", "caCertificate", "ca_certificate", "ca"});
  for (const auto& ep : b.endpoints) {
    if (ep.tls && b.ca_cert.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      r.error = "bundle: TLS endpoint " + ep.url + " needs a PEM ca_cert";
      return r;
    }
  }
  const Json* topics = root.get("topics");
  auto topic = [&](std::initializer_list<const char*> keys, const std::string& fallback) {
    std::string t = topics && topics->is_object() ? str_member(*topics, keys) : std::string();
    return t.empty() ? fallback : t;
  };
  b.topic_up = topic({"up"}, topic_up(b.device_id));
  b.topic_ack = topic({"ack"}, topic_ack(b.device_id));
  b.topic_down = topic({"down"}, topic_down_filter(b.device_id));
  const std::string own = kTopicRoot + b.device_id + "/";
  for (const std::string* t : {&b.topic_up, &b.topic_ack, &b.topic_down}) {
    if (t->compare(0, own.size(), own) != 0) {
      r.error = "bundle: topic " + *t + " is not under " + own;
      return r;
    }
  }
  r.ok = true;
  return r;
}

std::string serialize_bundle(const Bundle& b) {
  Json urls = Json::array();
  for (const auto& ep : b.endpoints) urls.push(Json::string(ep.url));
  Json mqtt = Json::object();
  mqtt.set("urls", urls);
  mqtt.set("username", Json::string(b.username));
  mqtt.set("password", Json::string(b.password));
  mqtt.set("client_id", Json::string(b.client_id));
  if (!b.ca_cert.empty()) mqtt.set("ca_cert", Json::string(b.ca_cert));
  Json topics = Json::object();
  topics.set("up", Json::string(b.topic_up));
  topics.set("down", Json::string(b.topic_down));
  topics.set("ack", Json::string(b.topic_ack));
  Json root = Json::object();
  root.set("version", Json::number(1));
  root.set("device_id", Json::string(b.device_id));
  root.set("mqtt", mqtt);
  root.set("topics", topics);
  return root.dump();
}

}  // namespace sus
