// Stub of arduino-esp32 2.0.x <Preferences.h> (NVS): the members the glue uses, behind the NVS model of nvs_model.h.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "WString.h"

typedef enum { PT_I8, PT_U8, PT_I16, PT_U16, PT_I32, PT_U32, PT_I64, PT_U64, PT_STR, PT_BLOB, PT_INVALID } PreferenceType;

class Preferences {
 public:
  bool begin(const char* name, bool readOnly = false, const char* partition_label = nullptr);
  bool remove(const char* key);
  size_t putString(const char* key, const char* value);
  size_t putBytes(const char* key, const void* value, size_t len);
  bool isKey(const char* key);
  PreferenceType getType(const char* key);
  String getString(const char* key, String defaultValue = String());
  size_t getBytesLength(const char* key);
  size_t getBytes(const char* key, void* buf, size_t maxLen);

 private:
  bool started_ = false;
  bool read_only_ = false;
};
