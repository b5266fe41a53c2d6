// SDS011 particulate sensor over UART (9600 8N1): pm2_5 and pm10 in ug/m3 from its 10-byte data frames
// AA C0 pm25lo pm25hi pm10lo pm10hi id1 id2 checksum AB.
#pragma once

#include <HardwareSerial.h>

#include "sus/platform.hpp"

class Sds011Sensor : public sus::Sensor {
 public:
  explicit Sds011Sensor(HardwareSerial& port) : port_(port) {}
  void begin(int rx, int tx) { port_.begin(9600, SERIAL_8N1, rx, tx); }
  const char* name() const override { return "sds011"; }
  bool read(std::vector<std::pair<std::string, double>>& out) override {
    // The sensor sends a frame every second; read for up to 1.5 s and keep the newest valid one.
    uint8_t f[10];
    bool got = false;
    // A 32-bit difference stays right when millis() wraps (after 49.7 days); `millis() < start + 1500` does not.
    const uint32_t start = millis();
    while (static_cast<uint32_t>(millis() - start) < 1500) {
      if (port_.available() < 10) {
        delay(10);
        continue;
      }
      if (port_.read() != 0xAA || port_.peek() != 0xC0) continue;
      f[0] = 0xAA;
      port_.readBytes(f + 1, 9);
      uint8_t sum = 0;
      for (int i = 2; i < 8; ++i) sum += f[i];
      if (f[9] == 0xAB && f[8] == sum) {
        got = true;
        pm25_ = (f[2] | (f[3] << 8)) / 10.0;
        pm10_ = (f[4] | (f[5] << 8)) / 10.0;
      }
    }
    if (!got) return false;
    out.emplace_back("pm2_5", pm25_);
    out.emplace_back("pm10", pm10_);
    return true;
  }

 private:
  HardwareSerial& port_;
  double pm25_ = 0, pm10_ = 0;
};
