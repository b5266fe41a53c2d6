// Stub of arduino-esp32 2.0.x <Arduino.h>: what the SUS glue uses (see README.md in this folder).
#pragma once

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "Esp.h"
#include "HardwareSerial.h"
#include "WString.h"

unsigned long millis();
void delay(uint32_t ms);
void configTime(long gmtOffset_sec, int daylightOffset_sec, const char* server1, const char* server2 = nullptr,
                const char* server3 = nullptr);
