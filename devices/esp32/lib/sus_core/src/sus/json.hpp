// Minimal JSON value, parser and writer for the device core: no exceptions, no dependency, bounded depth, so it
// fits the ESP32 (a provisioning bundle or a downlink is a few KB) and builds the same on the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace sus {

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Json() = default;
  static Json boolean(bool b);
  static Json number(double d);
  static Json string(std::string s);
  static Json array();
  static Json object();

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  bool as_bool() const { return bool_; }
  double as_number() const { return number_; }
  const std::string& as_string() const { return string_; }
  const std::vector<Json>& items() const { return items_; }
  const std::vector<std::pair<std::string, Json>>& members() const { return members_; }

  /** Member lookup; nullptr when absent or when this is not an object. */
  const Json* get(const std::string& key) const;
  /** First present member among the alternative spellings (snake_case / camelCase). */
  const Json* get_any(std::initializer_list<const char*> keys) const;

  Json& push(Json v);
  Json& set(std::string key, Json v);

  std::string dump() const;

 private:
  friend class JsonParser;
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

struct JsonResult {
  bool ok = false;
  Json value;
  std::string error;  // with the byte offset, for the ack / the log
};

/**
 * What one document may cost. The top-level value has depth 0, the items and members of a container one more than
 * the container; each value becomes a Json node (~64 bytes on the ESP32), so a count bound is a memory bound: a
 * 16 KB downlink of `[0,0,0,…]` would otherwise need half a megabyte, more than the board's free heap.
 */
struct JsonLimits {
  std::size_t max_depth = 16;
  std::size_t max_values = 256;
};

/** Parses one JSON document (RFC 8259: UTF-8, trailing whitespace allowed, nothing else) within `limits`. */
JsonResult parse_json(const std::string& text, JsonLimits limits = {});

/** Appends `s` as a JSON string literal (quotes and escapes) to `out`. */
void append_json_string(std::string& out, const std::string& s);
/** Appends a finite number in the shortest form that reads back to the same double; `null` when not finite. */
void append_json_number(std::string& out, double d);

}  // namespace sus
