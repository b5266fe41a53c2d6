#include "sus/topics.hpp"

namespace sus {

std::string down_channel(const std::string& id, const std::string& topic) {
  const std::string prefix = kTopicRoot + id + "/down/";
  if (topic.size() <= prefix.size() || topic.compare(0, prefix.size(), prefix) != 0) return {};
  return topic.substr(prefix.size());
}

bool valid_device_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) return false;
  }
  return true;
}

}  // namespace sus
