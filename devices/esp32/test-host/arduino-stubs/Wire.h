// Stub of arduino-esp32 2.0.x <Wire.h>.
#pragma once

#include <stdint.h>

class TwoWire {
 public:
  bool begin(int sda = -1, int scl = -1, uint32_t frequency = 0);
};

extern TwoWire Wire;
