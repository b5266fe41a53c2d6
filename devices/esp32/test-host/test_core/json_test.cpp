#include <doctest.h>

#include <cmath>
#include <limits>

#include "sus/json.hpp"

using sus::parse_json;

TEST_CASE("json parses nested documents and reads members by either spelling") {
  auto r = parse_json(R"({"a":[1,2.5,-3e2],"b":{"deviceId":"x"},"c":true,"d":null,"s":"caf\u00e9 \ud83d\ude00"})");
  REQUIRE(r.ok);
  const auto& a = r.value.get("a")->items();
  CHECK(a.size() == 3);
  CHECK(a[1].as_number() == 2.5);
  CHECK(a[2].as_number() == -300);
  CHECK(r.value.get("b")->get_any({"device_id", "deviceId"})->as_string() == "x");
  CHECK(r.value.get("c")->as_bool());
  CHECK(r.value.get("d")->is_null());
  CHECK(r.value.get("s")->as_string() == "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST_CASE("json refuses malformed input with the offset instead of crashing") {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "01", "\"abc", "{\"a\":1} x", "nul", "\"\\ud800\"", "1e999",
                          "{\"a\" 1}", "[\"\x01\"]"}) {
    auto r = parse_json(bad);
    CHECK_MESSAGE(!r.ok, bad);
    CHECK(!r.error.empty());
  }
  // Where a value is missing the error says so (not "invalid number").
  CHECK(parse_json("[1,]").error == "expected a value at offset 3");
  CHECK(parse_json("{\"a\":}").error == "expected a value at offset 5");
}

TEST_CASE("json refuses nesting deeper than the limit") {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto r = parse_json(deep);
  CHECK(!r.ok);
  CHECK(r.error.find("nesting too deep") == 0);
}

TEST_CASE("json writer escapes strings and writes numbers in their shortest round-trip form") {
  sus::Json o = sus::Json::object();
  o.set("t", sus::Json::string("a\"b\\c\n\x01"));
  o.set("n", sus::Json::number(21.4));
  o.set("p", sus::Json::number(0.1 + 0.2));
  o.set("nan", sus::Json::number(std::numeric_limits<double>::quiet_NaN()));
  CHECK(o.dump() == R"({"t":"a\"b\\c\n\u0001","n":21.4,"p":0.30000000000000004,"nan":null})");
}
