// Stub of arduino-esp32 2.0.x <Preferences.h> (NVS).
#pragma once

#include <stddef.h>

#include "WString.h"

class Preferences {
 public:
  bool begin(const char* name, bool readOnly = false, const char* partition_label = nullptr);
  bool isKey(const char* key);
  size_t putString(const char* key, const char* value);
  String getString(const char* key, String defaultValue = String());
};
