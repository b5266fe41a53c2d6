// Stub of arduino-esp32 2.0.x <Esp.h>.
#pragma once

class EspClass {
 public:
  [[noreturn]] void restart();
};

extern EspClass ESP;
