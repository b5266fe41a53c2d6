// Stub of arduino-esp32 2.0.x <HardwareSerial.h> with the Stream/Print members the glue uses.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string>

#include "WString.h"

#define SERIAL_8N1 0x800001c

class HardwareSerial {
 public:
  explicit HardwareSerial(int uart_nr) : uart_nr_(uart_nr) {}
  void begin(unsigned long baud, uint32_t config = SERIAL_8N1, int8_t rxPin = -1, int8_t txPin = -1,
             bool invert = false, unsigned long timeout_ms = 20000UL, uint8_t rxfifo_full_thrhd = 112);
  int available();
  int peek();
  int read();
  size_t readBytes(char* buffer, size_t length);
  size_t readBytes(uint8_t* buffer, size_t length) { return readBytes(reinterpret_cast<char*>(buffer), length); }
  String readStringUntil(char terminator);
  size_t println(const char* s);
  size_t printf(const char* format, ...) __attribute__((format(printf, 2, 3)));

  int uart_nr() const { return uart_nr_; }

 private:
  int uart_nr_;
};

extern HardwareSerial Serial;
extern HardwareSerial Serial2;
