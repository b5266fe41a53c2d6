// What the core needs from the board: an MQTT session, sensors and a small key-value store. The ESP32 glue
// implements them with esp-mqtt / NVS / I2C+UART drivers, the host build with libmosquitto / files / synthetic data.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sus {

class Transport {
 public:
  virtual ~Transport() = default;
  virtual bool connected() const = 0;
  /** QoS 1 publish. Returns a message id (> 0) whose PUBACK is later reported to DeviceCore::on_puback, or -1. */
  virtual int publish(const std::string& topic, const std::string& payload) = 0;
};

class Sensor {
 public:
  virtual ~Sensor() = default;
  /** Driver name, e.g. `bme280`: what `sensors` in the desired config may name. */
  virtual const char* name() const = 0;
  /** Appends (quantity, value) pairs in the catalogue's canonical units; false when the sensor failed. */
  virtual bool read(std::vector<std::pair<std::string, double>>& out) = 0;
};

class KeyValueStore {
 public:
  virtual ~KeyValueStore() = default;
  virtual bool get(const std::string& key, std::string& value) = 0;
  virtual bool set(const std::string& key, const std::string& value) = 0;
};

}  // namespace sus
