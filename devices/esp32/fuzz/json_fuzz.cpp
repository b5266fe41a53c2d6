// libFuzzer target: whatever bytes arrive as a downlink (or sit in NVS), the core's JSON reader and everything that
// parses with it must neither crash nor read out of bounds nor hit undefined behaviour, and what it accepts must
// survive a write/read round trip unchanged. Built with -fsanitize=fuzzer,address,undefined (SUS_BUILD_FUZZ).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sus/bundle.hpp"
#include "sus/desired_config.hpp"
#include "sus/device_core.hpp"
#include "sus/json.hpp"
#include "sus/reading.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "json-fuzz property violated: %s\n", what);
  std::abort();
}

/** RFC 3629 by code point (a second implementation, so the parser's own check is not trusted to test itself). */
bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (std::size_t k = 1; k < n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

struct SinkTransport : sus::Transport {
  std::vector<std::string> acks;
  bool connected() const override { return true; }
  int publish(const std::string&, const std::string& payload) override {
    acks.push_back(payload);
    return 1;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  sus::JsonResult r = sus::parse_json(text);
  if (r.ok == !r.error.empty()) fail("a result is either a value or an error");
  if (r.ok) {
    // What the reader accepts, the writer writes back in a form the reader reads to the same value.
    const std::string once = r.value.dump();
    sus::JsonResult again = sus::parse_json(once);
    if (!again.ok) fail("the dump of a parsed document does not parse");
    if (again.value.dump() != once) fail("dump(parse(dump(x))) differs from dump(x)");
    if (!valid_utf8(once)) fail("the dump of a parsed document is not UTF-8");
  }

  // Every consumer of untrusted text: the downlink paths, the bundle from the serial console, the NVS backlog.
  static SinkTransport transport;
  static sus::TimeSync time;
  static const sus::Bundle bundle =
      sus::parse_bundle(R"({"device_id":"fz-1","mqtt":{"url":"mqtt://h","password":"p"}})").bundle;
  sus::DeviceCore core(bundle, transport, {}, nullptr, time);
  transport.acks.clear();
  core.on_message("sus/v1/devices/fz-1/down/config", text);
  core.on_message("sus/v1/devices/fz-1/down/command", text);
  for (const std::string& ack : transport.acks) {
    sus::JsonResult a = sus::parse_json(ack);
    if (!a.ok || !a.value.is_object()) fail("an ack is not a JSON object");
    if (!valid_utf8(ack)) fail("an ack is not UTF-8 (RFC 8259 JSON text)");
  }
  sus::parse_bundle(text);
  core.import_backlog(text);
  return 0;
}
