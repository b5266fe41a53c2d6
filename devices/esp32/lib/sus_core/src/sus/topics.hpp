// The MQTT topic contract (DESIGN.md): everything a device does lives under its own prefix.
#pragma once

#include <string>

namespace sus {

constexpr const char* kTopicRoot = "sus/v1/devices/";

inline std::string topic_up(const std::string& id) { return kTopicRoot + id + "/up"; }
inline std::string topic_ack(const std::string& id) { return kTopicRoot + id + "/ack"; }
inline std::string topic_down_filter(const std::string& id) { return kTopicRoot + id + "/down/#"; }
inline std::string topic_down_config(const std::string& id) { return kTopicRoot + id + "/down/config"; }

/** The channel after `…/down/` when `topic` is this device's downlink (`config`, `cmd/reboot`), else empty. */
std::string down_channel(const std::string& id, const std::string& topic);

/** Device ids appear in topics, tags and URLs: same alphabet as the platform (^[a-z0-9][a-z0-9_.-]{0,63}$). */
bool valid_device_id(const std::string& id);

}  // namespace sus
