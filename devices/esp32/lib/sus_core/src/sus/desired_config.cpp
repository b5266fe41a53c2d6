#include "sus/desired_config.hpp"

#include <cmath>

namespace sus {

bool DeviceConfig::enabled(const std::string& sensor, const std::string& quantity) const {
  if (sensors.empty()) return true;
  for (const auto& s : sensors) {
    if (s == sensor || s == quantity) return true;
  }
  return false;
}

Json DeviceConfig::to_json() const {
  Json list = Json::array();
  for (const auto& s : sensors) list.push(Json::string(s));
  Json o = Json::object();
  o.set("interval_s", Json::number(interval_s));
  o.set("sensors", list);
  return o;
}

ConfigUpdate apply_desired_config(const DeviceConfig& current, const std::string& payload) {
  ConfigUpdate u;
  JsonResult j = parse_json(payload);
  if (!j.ok) {
    u.error = "not JSON: " + j.error;
    return u;
  }
  if (!j.value.is_object()) {
    u.error = "desired config must be a JSON object";
    return u;
  }
  const Json& doc = j.value;
  if (const Json* ref = doc.get_any({"version", "ref", "id"})) u.ref = *ref;
  // The broker's desired-config document may wrap the settings in `config` / `desired`.
  const Json* inner = doc.get_any({"config", "desired"});
  const Json& c = inner && inner->is_object() ? *inner : doc;
  DeviceConfig next = current;
  if (const Json* iv = c.get_any({"interval_s", "intervalS", "reporting_interval_s"})) {
    double v = iv->is_number() ? iv->as_number() : -1;
    if (!(v >= kMinIntervalS && v <= kMaxIntervalS) || std::floor(v) != v) {
      u.error = "interval_s must be an integer in [" + std::to_string(kMinIntervalS) + ", " +
                std::to_string(kMaxIntervalS) + "]";
      return u;
    }
    next.interval_s = static_cast<uint32_t>(v);
  }
  if (const Json* s = c.get("sensors")) {
    if (!s->is_array()) {
      u.error = "sensors must be an array of names";
      return u;
    }
    next.sensors.clear();
    for (const auto& item : s->items()) {
      if (!item.is_string() || item.as_string().empty()) {
        u.error = "sensors must be an array of names";
        return u;
      }
      next.sensors.push_back(item.as_string());
    }
  }
  u.ok = true;
  u.config = next;
  return u;
}

std::string encode_ack(const char* kind, const Json& ref, bool ok, const DeviceConfig* applied,
                       const std::string& error) {
  Json a = Json::object();
  if (ref.is_number() && ref.as_number() >= 1 && std::floor(ref.as_number()) == ref.as_number()) a.set(kind, ref);
  a.set("status", Json::string(ok ? "applied" : "rejected"));
  a.set("ref", ref);
  a.set("ok", Json::boolean(ok));
  if (ok && applied) a.set("applied", applied->to_json());
  if (!ok) a.set("error", Json::string(error));
  return a.dump();
}

}  // namespace sus
