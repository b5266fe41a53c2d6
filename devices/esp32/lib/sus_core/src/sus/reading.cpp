#include "sus/reading.hpp"

#include <cmath>

#include "sus/json.hpp"
#include "sus/time_sync.hpp"

namespace sus {

static void append_reading(std::string& out, const Reading& r) {
  out += '{';
  if (r.time_ms > 0) {
    out += "\"time\":";
    out += std::to_string(r.time_ms);
    out += ',';
  }
  out += "\"seq\":";
  out += std::to_string(r.seq);
  if (r.dropped > 0) {
    out += ",\"dropped\":";
    out += std::to_string(r.dropped);
  }
  out += ",\"values\":{";
  bool first = true;
  for (const auto& v : r.values) {
    if (!std::isfinite(v.second)) continue;
    if (!first) out += ',';
    first = false;
    append_json_string(out, v.first);
    out += ':';
    append_json_number(out, v.second);
  }
  out += "}}";
}

std::string encode_reading(const Reading& r) {
  std::string out;
  out.reserve(64 + 32 * r.values.size());
  append_reading(out, r);
  return out;
}

std::string encode_batch(const std::vector<Reading>& readings) {
  std::string out = "[";
  for (std::size_t i = 0; i < readings.size(); ++i) {
    if (i) out += ',';
    append_reading(out, readings[i]);
  }
  out += ']';
  return out;
}

}  // namespace sus

namespace sus {

static bool whole_in(const Json* v, double lo, double hi) {
  return v && v->is_number() && v->as_number() >= lo && v->as_number() <= hi &&
         std::floor(v->as_number()) == v->as_number();
}

bool decode_batch(const std::string& text, std::vector<Reading>& out) {
  // The device's own backlog (NVS / the state directory): as many values as its writer put in, three levels deep
  // (batch → reading → values → number).
  JsonResult j = parse_json(text, {3, text.size()});
  if (!j.ok || !j.value.is_array()) return false;
  for (const auto& item : j.value.items()) {
    const Json* values = item.get("values");
    const Json* seq = item.get("seq");
    const Json* time = item.get("time");
    const Json* dropped = item.get("dropped");
    // Range-checked before the casts: a double outside the integer's range makes the cast undefined.
    if (!values || !values->is_object() || !whole_in(seq, 0, UINT32_MAX)) return false;
    if (time && !whole_in(time, kMinPlausibleEpochMs, kMaxPlausibleEpochMs - 1)) return false;
    if (dropped && !whole_in(dropped, 0, UINT32_MAX)) return false;
    Reading r;
    if (time) r.time_ms = static_cast<int64_t>(time->as_number());
    r.seq = static_cast<uint32_t>(seq->as_number());
    if (dropped) r.dropped = static_cast<uint32_t>(dropped->as_number());
    for (const auto& m : values->members()) {
      if (m.second.is_number()) r.values.emplace_back(m.first, m.second.as_number());
    }
    out.push_back(std::move(r));
  }
  return true;
}

}  // namespace sus
