#include <doctest.h>

#include "sus/bundle.hpp"
#include "sus/endpoint_order.hpp"

using sus::parse_bundle;

TEST_CASE("bundle: the documented shape parses with contract topics as defaults") {
  auto r = parse_bundle(
      R"({"version":1,"device_id":"aq-01","mqtt":{"urls":["mqtt://10.0.0.5:1884","mqtts://sus.example.org"],)"
      R"("username":"aq-01","password":"s3cret","ca_cert":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}})");
  REQUIRE_MESSAGE(r.ok, r.error);
  CHECK(r.bundle.device_id == "aq-01");
  REQUIRE(r.bundle.endpoints.size() == 2);
  CHECK(r.bundle.endpoints[0].host == "10.0.0.5");
  CHECK(r.bundle.endpoints[0].port == 1884);
  CHECK(!r.bundle.endpoints[0].tls);
  CHECK(r.bundle.endpoints[1].port == 8883);
  CHECK(r.bundle.endpoints[1].tls);
  CHECK(r.bundle.client_id == "aq-01");
  CHECK(r.bundle.topic_up == "sus/v1/devices/aq-01/up");
  CHECK(r.bundle.topic_ack == "sus/v1/devices/aq-01/ack");
  CHECK(r.bundle.topic_down == "sus/v1/devices/aq-01/down/#");
}

TEST_CASE("bundle: camelCase and a flat mqttUrl are accepted, username defaults to the device id") {
  auto r = parse_bundle(R"({"deviceId":"x-1","mqttUrl":"mqtt://h","password":"p"})");
  REQUIRE_MESSAGE(r.ok, r.error);
  CHECK(r.bundle.username == "x-1");
  CHECK(r.bundle.endpoints[0].port == 1883);
}

TEST_CASE("bundle: the API's claim bundle (device, mqtt.clientId, topics, caCertificate null) parses") {
  auto r = parse_bundle(
      R"({"device":"aq-7","department":"environment","type":"air_quality","mqtt":{"urls":["mqtt://127.0.0.1:1883"],)"
      R"("username":"aq-7","password":"pw","clientId":"aq-7"},"topics":{"up":"sus/v1/devices/aq-7/up",)"
      R"("status":"sus/v1/devices/aq-7/status","down":"sus/v1/devices/aq-7/down/#","ack":"sus/v1/devices/aq-7/ack"},)"
      R"("caCertificate":null})");
  REQUIRE_MESSAGE(r.ok, r.error);
  CHECK(r.bundle.device_id == "aq-7");
  CHECK(r.bundle.ca_cert.empty());
  CHECK(r.bundle.topic_down == "sus/v1/devices/aq-7/down/#");
}

TEST_CASE("bundle: serialize then parse gives the same bundle (what is stored in NVS reads back)") {
  auto a = parse_bundle(R"({"device_id":"n-1","mqtt":{"url":"mqtt://h:1","password":"p","client_id":"n-1:b"}})");
  REQUIRE(a.ok);
  auto b = parse_bundle(sus::serialize_bundle(a.bundle));
  REQUIRE_MESSAGE(b.ok, b.error);
  CHECK(b.bundle.client_id == "n-1:b");
  CHECK(b.bundle.endpoints[0].url == "mqtt://h:1");
  CHECK(sus::serialize_bundle(b.bundle) == sus::serialize_bundle(a.bundle));
}

TEST_CASE("bundle: invalid bundles are refused with a reason") {
  struct Case {
    const char* json;
    const char* error;
  };
  for (const Case& c : {
           Case{"[]", "bundle must be a JSON object"},
           Case{R"({"device_id":"Bad Id","mqtt":{"url":"mqtt://h","password":"p"}})", "bundle: device_id missing or invalid"},
           Case{R"({"device_id":"a","mqtt":{"password":"p"}})", "bundle: no MQTT url"},
           Case{R"({"device_id":"a","mqtt":{"url":"http://h","password":"p"}})", "bundle: bad MQTT url http://h"},
           Case{R"({"device_id":"a","mqtt":{"url":"mqtt://h:99999","password":"p"}})", "bundle: bad MQTT url mqtt://h:99999"},
           Case{R"({"device_id":"a","mqtt":{"url":"mqtt://h"}})", "bundle: password missing"},
           Case{R"({"device_id":"a","mqtt":{"url":"mqtts://h","password":"p"}})", "bundle: TLS endpoint mqtts://h needs a PEM ca_cert"},
           Case{R"({"device_id":"a","mqtt":{"url":"mqtt://h","password":"p","client_id":"b"}})", "bundle: client_id must be the device id or id:suffix"},
           Case{R"({"device_id":"a","mqtt":{"url":"mqtt://h","password":"p"},"topics":{"up":"sus/v1/devices/b/up"}})", "bundle: topic sus/v1/devices/b/up is not under sus/v1/devices/a/"},
       }) {
    auto r = parse_bundle(c.json);
    CHECK(!r.ok);
    CHECK(r.error == c.error);
  }
}

TEST_CASE("bundle: MQTT URLs take IPv6 hosts in brackets, default ports per scheme, and refuse malformed ones") {
  struct Case {
    const char* url;
    const char* host;
    int port;
    bool tls;
  };
  for (const Case& c : {
           Case{"mqtt://[::1]:1883", "::1", 1883, false},
           Case{"mqtts://[::1]:8883", "::1", 8883, true},
           Case{"mqtt://[::]", "::", 1883, false},
           Case{"mqtts://[2001:DB8:0:0:8:800:200C:417A]:1", "2001:DB8:0:0:8:800:200C:417A", 1, true},
           Case{"mqtt://[fe80::]:1883", "fe80::", 1883, false},
           Case{"mqtt://[::ffff:c000:201]:1883", "::ffff:c000:201", 1883, false},
           Case{"mqtt://[64:ff9b::192.0.2.33]", "64:ff9b::192.0.2.33", 1883, false},
           Case{"mqtt://[1:2:3:4:5:6:1.2.3.4]", "1:2:3:4:5:6:1.2.3.4", 1883, false},
           Case{"mqtt://[::1]:1884", "::1", 1884, false},
           Case{"mqtts://[2001:db8::17]", "2001:db8::17", 8883, true},
           Case{"mqtt://[::ffff:192.0.2.1]/", "::ffff:192.0.2.1", 1883, false},
           Case{"mqtt://sus.example.org", "sus.example.org", 1883, false},
           Case{"tcp://10.0.0.5", "10.0.0.5", 1883, false},
           Case{"mqtts://sus.example.org", "sus.example.org", 8883, true},
           Case{"ssl://sus.example.org", "sus.example.org", 8883, true},
           Case{"tls://h:443/mqtt", "h", 443, true},
           Case{"mqtt://h:65535", "h", 65535, false},
       }) {
    CAPTURE(c.url);
    sus::MqttEndpoint ep;
    REQUIRE(sus::parse_mqtt_url(c.url, ep));
    CHECK(ep.url == c.url);
    CHECK(ep.host == c.host);
    CHECK(ep.port == c.port);
    CHECK(ep.tls == c.tls);
  }
  for (const char* url : {
           "mqtts://[::1",          // unclosed bracket
           "mqtts://[::1]8883",     // no colon before the port
           "mqtts://[::1]:",        // empty port
           "mqtts://[::1]:88a3",    // not a number
           "mqtts://[]:8883",       // no address
           "mqtts://[sus.org]:8883",  // brackets hold an IPv6 address only
           "mqtts://[10.0.0.1]:8883",
           "mqtt://[::1]]:1883",
           "mqtt://[[::1]]:1883",
           "mqtt://]::1[:1883",
           "mqtt://h]:1883",
           "mqtt://[::1]:1883:1883",
           "mqtt://[::1%eth0]:1883",  // no zone ids
           "mqtt://[1::2::3]",        // one `::` at most
           "mqtt://[:::]",
           "mqtt://[:1::2]",
           "mqtt://[1::2:]",
           "mqtt://[1:2:3:4:5:6:7]",    // seven groups without `::`
           "mqtt://[1:2:3:4:5:6:7:8:9]",
           "mqtt://[1:2:3:4::5:6:7:8]",  // `::` standing for no group
           "mqtt://[12345::1]",
           "mqtt://[g::1]",
           "mqtt://[::1.2.3]",
           "mqtt://[::1.2.3.256]",
           "mqtt://[::1.2.3.4:5]",     // IPv4 only as the last two groups
           "mqtt://[1.2.3.4::]",
           "mqtt://[1:2:3:4:5:6:7:1.2.3.4]",
           "mqtt://::1:1883",       // IPv6 without brackets: which colon is the port's?
           "mqtt://fe80::1",
           "mqtt://h:0",
           "mqtt://h:65536",
           "mqtt://h:123456",
           "mqtt://h:+80",
           "mqtt://:1883",
           "mqtt://",
           "mqtt://user:pw@h:1883",  // credentials belong in the bundle's username and password
           "mqtt://bad host",
           "ws://h:80",
           "h:1883",
       }) {
    CAPTURE(url);
    sus::MqttEndpoint ep;
    ep.host = "untouched";
    CHECK(!sus::parse_mqtt_url(url, ep));
    CHECK(ep.host == "untouched");
  }
}

TEST_CASE("bundle: URLs are tried in order until one accepts a connection, which is kept from then on") {
  sus::EndpointOrder order(3);
  CHECK(order.current() == 0);
  CHECK(order.on_failed());
  CHECK(order.current() == 1);
  CHECK(order.on_failed());
  CHECK(order.on_failed());
  CHECK(order.current() == 0);  // round again, the backoff between attempts growing
  CHECK(order.on_failed());
  CHECK(!order.settled());
  order.on_connected();
  CHECK(order.settled());
  CHECK(!order.on_failed());  // an outage later is waited out on the URL that worked
  CHECK(order.current() == 1);
  sus::EndpointOrder one(1);
  CHECK(!one.on_failed());
  CHECK(one.current() == 0);
}
