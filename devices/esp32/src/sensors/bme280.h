// BME280 over I2C: air_temperature (Cel), relative_humidity (%RH), air_pressure (Pa).
#pragma once

#include <Adafruit_BME280.h>

#include "sus/platform.hpp"

class Bme280Sensor : public sus::Sensor {
 public:
  bool begin(uint8_t address = 0x76) { return ok_ = bme_.begin(address) || bme_.begin(0x77); }
  const char* name() const override { return "bme280"; }
  bool read(std::vector<std::pair<std::string, double>>& out) override {
    if (!ok_) return false;
    float t = bme_.readTemperature(), h = bme_.readHumidity(), p = bme_.readPressure();
    if (isnan(t) || isnan(h) || isnan(p)) return false;  // a loose wire reads NaN: report nothing, not garbage
    out.emplace_back("air_temperature", t);
    out.emplace_back("relative_humidity", h);
    out.emplace_back("air_pressure", p);
    return true;
  }

 private:
  Adafruit_BME280 bme_;
  bool ok_ = false;
};
