// NVS (ESP-IDF 4.4's nvs_flash) as the stubs of Preferences see it: what fits and what is refused, entry by entry,
// so the glue test proves what the board would do with its default partition (arduino-esp32's partition tables: nvs
// = 0x5000, five 4 KB pages). The limits it models, from ESP-IDF's "Non-volatile storage" documentation:
//   - a page holds 126 entries of 32 bytes; NVS keeps one page empty to reclaim erased entries into;
//   - an integer takes one entry; a namespace takes one entry;
//   - a string takes a header entry and ceil((length + 1) / 32) data entries, all on one page: at most 4000 bytes
//     with its terminator;
//   - a blob takes an index entry and, on every page it spans, a chunk of a header entry plus data entries; at most
//     97.6% of the partition minus 4000 bytes (508000 bytes on large partitions);
//   - a new value is written before the one it replaces is erased, so an update needs room for both;
//   - a key keeps its type: writing another type to it is refused (ESP-IDF 4.4: "an error is returned").
// Erased entries count as free at once: NVS reclaims them into the spare page when it needs the room.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace stub {

class Nvs {
 public:
  enum class Type { U32, Str, Blob };
  enum class Result { Ok, NotFound, TypeMismatch, NotEnoughSpace, ValueTooLong };

  static constexpr std::size_t kPageBytes = 4096;
  static constexpr std::size_t kEntriesPerPage = 126;
  static constexpr std::size_t kEntryBytes = 32;
  static constexpr std::size_t kMaxStringBytes = 4000;  // with the terminator

  Nvs() : Nvs(0x5000) {}
  explicit Nvs(std::size_t partition_bytes);

  // What nvs_set_* / nvs_get_* / nvs_erase_key do (Preferences calls them).
  Result set(const std::string& key, Type type, const std::string& bytes);
  Result get(const std::string& key, Type type, std::string& bytes) const;
  Result erase(const std::string& key);
  /** nvs_open of a namespace: its first use takes an entry. */
  Result open(const std::string& name);

  // For the tests.
  bool has(const std::string& key) const { return items_.count(key) != 0; }
  Type type(const std::string& key) const { return items_.at(key).type; }
  /** The stored bytes (a string without its terminator) of a key of any type; throws when absent. */
  const std::string& at(const std::string& key) const { return items_.at(key).bytes; }
  /** Store like the firmware would, and throw when NVS would refuse: for setting up a board's state. */
  void put_string(const std::string& key, const std::string& value) { put(key, Type::Str, value); }
  void put_blob(const std::string& key, const std::string& value) { put(key, Type::Blob, value); }
  std::size_t free_entries() const;
  std::size_t max_blob_bytes() const { return max_blob_; }
  /** Occupies free entries with other components' data (Wi-Fi driver, other namespaces) until `leave` are free. */
  void fill(std::size_t leave);

 private:
  struct Item {
    Type type;
    std::string bytes;
    std::vector<std::pair<std::size_t, std::size_t>> pages;  // (page, entries taken there)
  };
  void put(const std::string& key, Type type, const std::string& bytes);
  bool place(Type type, std::size_t size, std::vector<std::pair<std::size_t, std::size_t>>& where);
  void release(const std::vector<std::pair<std::size_t, std::size_t>>& where);

  std::vector<std::size_t> free_;  // free entries per data page (the spare page is not among them)
  std::size_t max_blob_;
  std::map<std::string, Item> items_;
  std::vector<std::string> namespaces_;
};

}  // namespace stub
