// Stub of Adafruit BME280 Library 2.2.x <Adafruit_BME280.h> (what src/sensors/bme280.h uses).
#pragma once

#include <stdint.h>

#include "Wire.h"

#define BME280_ADDRESS (0x77)

class Adafruit_BME280 {
 public:
  bool begin(uint8_t addr = BME280_ADDRESS, TwoWire* theWire = &Wire);
  float readTemperature();
  float readPressure();
  float readHumidity();
};
