// Properties of the JSON reader that reads untrusted downlinks, checked over many generated inputs (fixed seeds, so
// a failure reproduces; the message shows the input). CTest runs this suite under ASan + UBSan, so "never crashes"
// also means "never reads out of bounds". fuzz/json_fuzz.cpp explores the same reader coverage-guided.
#include <doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "sus/json.hpp"

namespace {

using Rng = std::mt19937_64;
constexpr sus::JsonLimits kUnbounded{16, SIZE_MAX};

std::size_t below(Rng& rng, std::size_t n) { return static_cast<std::size_t>(rng() % n); }

void append_code_point(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/** Any UTF-8 text: ASCII, the characters the writer escapes, and 2-, 3- and 4-byte code points (no surrogates). */
std::string random_text(Rng& rng) {
  std::string s;
  for (std::size_t n = below(rng, 12); n > 0; --n) {
    switch (below(rng, 5)) {
      case 0: s += "\"\\/\b\f\n\r\t"[below(rng, 8)]; break;
      case 1: s += static_cast<char>(below(rng, 0x20)); break;  // control characters, NUL included
      case 2: append_code_point(s, 0x80 + static_cast<uint32_t>(below(rng, 0xD800 - 0x80))); break;
      case 3: append_code_point(s, 0x10000 + static_cast<uint32_t>(below(rng, 0x100000))); break;
      default: s += static_cast<char>(0x20 + below(rng, 0x5F)); break;
    }
  }
  return s;
}

double random_number(Rng& rng) {
  switch (below(rng, 4)) {
    case 0: {  // integers of every magnitude up to 2^63 - 1
      const auto magnitude = static_cast<int64_t>(rng() >> (1 + below(rng, 63)));
      return static_cast<double>(below(rng, 2) ? magnitude : -magnitude);
    }
    case 1: return static_cast<double>(static_cast<int>(below(rng, 2000000)) - 1000000) / 10.0;
    case 2: return below(rng, 2) ? 0.0 : -0.0;
    default: {
      double d;
      do {
        uint64_t bits = rng();
        std::memcpy(&d, &bits, sizeof d);
      } while (!std::isfinite(d));  // every finite double: subnormals, extremes, negative zero
      return d;
    }
  }
}

sus::Json random_value(Rng& rng, int depth) {
  switch (below(rng, depth >= 6 ? 4 : 6)) {
    case 0: return sus::Json();
    case 1: return sus::Json::boolean(below(rng, 2) == 1);
    case 2: return sus::Json::number(random_number(rng));
    case 3: return sus::Json::string(random_text(rng));
    case 4: {
      sus::Json a = sus::Json::array();
      for (std::size_t n = below(rng, 5); n > 0; --n) a.push(random_value(rng, depth + 1));
      return a;
    }
    default: {
      sus::Json o = sus::Json::object();
      for (std::size_t n = below(rng, 5); n > 0; --n) o.set(random_text(rng), random_value(rng, depth + 1));
      return o;
    }
  }
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool same(const sus::Json& a, const sus::Json& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case sus::Json::Type::Null: return true;
    case sus::Json::Type::Bool: return a.as_bool() == b.as_bool();
    case sus::Json::Type::Number: return same_bits(a.as_number(), b.as_number());
    case sus::Json::Type::String: return a.as_string() == b.as_string();
    case sus::Json::Type::Array:
      if (a.items().size() != b.items().size()) return false;
      for (std::size_t i = 0; i < a.items().size(); ++i) {
        if (!same(a.items()[i], b.items()[i])) return false;
      }
      return true;
    case sus::Json::Type::Object:
      if (a.members().size() != b.members().size()) return false;
      for (std::size_t i = 0; i < a.members().size(); ++i) {
        if (a.members()[i].first != b.members()[i].first || !same(a.members()[i].second, b.members()[i].second)) {
          return false;
        }
      }
      return true;
  }
  return false;
}

/** A token of RFC 8259's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
std::string random_number_token(Rng& rng) {
  const auto digits = [&](std::size_t n) {
    std::string d;
    for (; n > 0; --n) d += static_cast<char>('0' + below(rng, 10));
    return d;
  };
  std::string t = below(rng, 2) ? "-" : "";
  if (below(rng, 4) == 0) {
    t += '0';
  } else {
    t += static_cast<char>('1' + below(rng, 9));
    t += digits(below(rng, below(rng, 4) == 0 ? 40 : 18));
  }
  if (below(rng, 2)) t += "." + digits(1 + below(rng, below(rng, 4) == 0 ? 40 : 18));
  if (below(rng, 2)) {
    t += "eE"[below(rng, 2)];
    if (below(rng, 2)) t += "+-"[below(rng, 2)];
    t += digits(1 + below(rng, 3));
  }
  return t;
}

/** Bytes that are mostly JSON's own: what a fuzzer would try first, without one. */
std::string random_bytes(Rng& rng) {
  static const char* const kPieces[] = {"{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "d83d", "\\udc00", "true",
                                        "false", "null", "-", "0", "1", ".", "e", "E", "+", " ", "\n", "\"a\""};
  std::string s;
  for (std::size_t n = below(rng, 24); n > 0; --n) {
    if (below(rng, 5) == 0) {
      s += static_cast<char>(below(rng, 256));
    } else {
      s += kPieces[below(rng, sizeof kPieces / sizeof kPieces[0])];
    }
  }
  return s;
}

/** A refusal names what was wrong and a byte offset inside the input. */
void check_refusal(const sus::JsonResult& r, const std::string& input) {
  const std::string marker = " at offset ";
  const std::size_t at = r.error.rfind(marker);
  REQUIRE_MESSAGE(at != std::string::npos, r.error);
  CHECK_MESSAGE(at > 0, r.error);
  const std::string offset = r.error.substr(at + marker.size());
  REQUIRE_MESSAGE(offset.find_first_not_of("0123456789") == std::string::npos, r.error);
  CHECK_MESSAGE(std::stoul(offset) <= input.size(), r.error);
}

}  // namespace

TEST_CASE("json property: every value the writer writes reads back identical, down to the bits of each number") {
  Rng rng(20251);
  for (int i = 0; i < 3000; ++i) {
    sus::Json v = random_value(rng, 0);
    std::string text = v.dump();
    sus::JsonResult r = sus::parse_json(text, kUnbounded);
    REQUIRE_MESSAGE(r.ok, text, " → ", r.error);
    CHECK_MESSAGE(same(v, r.value), text);
    CHECK(r.value.dump() == text);
  }
}

TEST_CASE("json property: a number is read exactly as strtod reads the same token, beyond a double it is refused") {
  Rng rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string token = random_number_token(rng);
    double expected = std::strtod(token.c_str(), nullptr);
    for (const std::string& doc : {token, "[" + token + "]", " {\"n\":" + token + "}\n"}) {
      sus::JsonResult r = sus::parse_json(doc);
      if (!std::isfinite(expected)) {
        CHECK_MESSAGE(r.error.rfind("number out of range", 0) == 0, doc);
        continue;
      }
      REQUIRE_MESSAGE(r.ok, doc, " → ", r.error);
      const sus::Json& n = r.value.is_number() ? r.value
                           : r.value.is_array() ? r.value.items()[0]
                                                : *r.value.get("n");
      CHECK_MESSAGE(same_bits(n.as_number(), expected), doc);
    }
  }
  for (const char* bad : {"01", "-01", "1.", ".5", "+1", "1e", "1e+", "-", "--1", "0x10", "1.5.2", "Infinity", "NaN",
                          "-Infinity", "1_000", "0.e1", "1e1.5", "\xef\xbc\x91"}) {
    sus::JsonResult r = sus::parse_json(bad);
    CHECK_MESSAGE(!r.ok, bad);
  }
}

TEST_CASE("json property: arbitrary bytes, mangled and truncated documents never crash, each refusal has an offset") {
  Rng rng(99);
  const std::string valid[] = {R"({"version":3,"config":{"interval_s":300,"sensors":["bme280"]},"time":1764000000000})",
                               R"([{"time":1764000000000,"seq":1,"values":{"co2":420.5}}])",
                               R"({"s":"caf\u00e9 \ud83d\ude00 \"q\"","n":[-0,1e-7,5e-324],"t":true,"z":null})"};
  const auto check = [](const std::string& input) {
    sus::JsonResult r = sus::parse_json(input);
    if (!r.ok) return check_refusal(r, input);
    CHECK(r.error.empty());
    CHECK(sus::parse_json(r.value.dump()).ok);
  };
  for (int i = 0; i < 20000; ++i) check(random_bytes(rng));
  for (const std::string& doc : valid) {
    for (std::size_t n = 0; n < doc.size(); ++n) {
      // Every strict prefix of a container document is incomplete; every one is refused.
      sus::JsonResult r = sus::parse_json(doc.substr(0, n));
      CHECK_FALSE_MESSAGE(r.ok, doc.substr(0, n));
      check_refusal(r, doc.substr(0, n));
    }
    for (int i = 0; i < 3000; ++i) {
      std::string m = doc;
      std::size_t at = below(rng, m.size());
      switch (below(rng, 3)) {
        case 0: m[at] = static_cast<char>(below(rng, 256)); break;
        case 1: m.erase(at, 1 + below(rng, 4)); break;
        default: m.insert(at, 1, static_cast<char>(below(rng, 256))); break;
      }
      check(m);
    }
  }
}

TEST_CASE("json property: nesting is bounded by max_depth for arrays and objects, without recursing past it") {
  const auto nested = [](std::size_t depth, bool objects) {
    std::string s;
    for (std::size_t i = 0; i < depth; ++i) s += objects ? "{\"a\":" : "[";
    s += "0";
    for (std::size_t i = 0; i < depth; ++i) s += objects ? "}" : "]";
    return s;
  };
  for (bool objects : {false, true}) {
    for (std::size_t limit : {0, 1, 5, 16}) {
      for (std::size_t depth = 0; depth <= 40; ++depth) {
        // The innermost 0 sits at `depth`: accepted exactly while that is within the limit.
        sus::JsonResult r = sus::parse_json(nested(depth, objects), {limit, 256});
        CHECK_MESSAGE(r.ok == (depth <= limit), nested(depth, objects));
        if (!r.ok) CHECK(r.error.rfind("nesting too deep at offset ", 0) == 0);
      }
    }
  }
  // A megabyte of brackets is refused at the first bracket beyond the limit (a stack overflow would end the test).
  sus::JsonResult deep = sus::parse_json(std::string(1 << 20, '['));
  CHECK(deep.error == "nesting too deep at offset 17");
}

TEST_CASE("json property: a document holds at most max_values values, so its memory is bounded") {
  const auto zeros = [](std::size_t n) {
    std::string s = "[";
    for (std::size_t i = 0; i < n; ++i) s += i ? ",0" : "0";
    return s + "]";
  };
  // The array counts as one value: 255 items fill the default budget of 256.
  CHECK(sus::parse_json(zeros(255)).ok);
  sus::JsonResult over = sus::parse_json(zeros(256));
  CHECK(over.error == "too many values at offset 511");
  CHECK(sus::parse_json(zeros(9), {16, 10}).ok);
  CHECK(!sus::parse_json(R"({"a":1,"b":[2,3]})", {16, 4}).ok);
  CHECK(sus::parse_json(R"({"a":1,"b":[2,3]})", {16, 5}).ok);
  // The platform's largest downlink (16 KB) of zeros: refused, instead of ~8000 nodes on a board with less heap.
  CHECK(sus::parse_json(zeros(8191)).error == "too many values at offset 511");
}

TEST_CASE("json property: strings are UTF-8 (RFC 8259), malformed sequences are refused where they start") {
  for (uint32_t cp : {0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFDu, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    std::string s;
    append_code_point(s, cp);
    sus::JsonResult r = sus::parse_json("\"" + s + "\"");
    REQUIRE_MESSAGE(r.ok, cp);
    CHECK(r.value.as_string() == s);
  }
  for (const char* bad : {"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xed\xa0\x80",
                          "\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
                          "\xff", "\xe2\x82", "\xe2\x82x", "\xf0\x9f\x98", "\xc3"}) {
    sus::JsonResult r = sus::parse_json(std::string("[\"ok ") + bad + "\"]");
    CHECK_MESSAGE(r.error == "invalid UTF-8 in string at offset 5", bad);
  }
}
