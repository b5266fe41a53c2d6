// Stub of arduino-esp32 2.0.x <WString.h>: the String members the glue uses, with Arduino's semantics
// (substring clamps its end, indexOf returns -1 when absent).
#pragma once

#include <string>

class String {
 public:
  String(const char* s = "") : s_(s ? s : "") {}
  String(const std::string& s) : s_(s) {}
  const char* c_str() const { return s_.c_str(); }
  unsigned int length() const { return static_cast<unsigned int>(s_.size()); }
  void trim();
  bool startsWith(const String& prefix) const { return s_.compare(0, prefix.s_.size(), prefix.s_) == 0; }
  int indexOf(char ch, unsigned int fromIndex = 0) const;
  String substring(unsigned int beginIndex) const { return substring(beginIndex, length()); }
  String substring(unsigned int beginIndex, unsigned int endIndex) const;

 private:
  std::string s_;
};
