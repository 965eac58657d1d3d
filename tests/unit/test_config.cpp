// proxy.toml: defaults, Codis's own file, durations and sizes, and errors
// that name the line and the key.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "codis/config.h"

using namespace std::chrono_literals;
using codis::ProxyConfig;

namespace {

std::string error_of(std::string_view text) {
  auto c = codis::parse_proxy_config(text);
  REQUIRE_FALSE(c.ok());
  return c.message();
}

}  // namespace

TEST_CASE("durations as Codis's timesize", "[config]") {
  CHECK(*codis::parse_duration("5s") == 5s);
  CHECK(*codis::parse_duration("30m") == 30min);
  CHECK(*codis::parse_duration("100ms") == 100ms);
  CHECK(*codis::parse_duration("0") == 0ms);
  CHECK(*codis::parse_duration("0s") == 0ms);
  CHECK(*codis::parse_duration("1h30m") == 90min);
  CHECK(*codis::parse_duration("1.5s") == 1500ms);
  CHECK(*codis::parse_duration(".5s") == 500ms);
  CHECK(*codis::parse_duration("2000us") == 2ms);
  CHECK(*codis::parse_duration("3000000ns") == 3ms);
  CHECK(*codis::parse_duration("20") == 20s);  // bare number: seconds
  CHECK(*codis::parse_duration(" 75s ") == 75s);
  CHECK(*codis::parse_duration("5 s") == 5s);  // Codis's timesize allows the blank

  for (auto bad : {"", "s", "5x", "-5s", "5", "1.2.3s", "5 s s", "1h30", "0.0001s", "abc", "99999999999999999999h"}) {
    if (std::string_view(bad) == "5") continue;  // valid (seconds); kept to document the rule
    auto d = codis::parse_duration(bad);
    INFO(bad);
    CHECK_FALSE(d.ok());
  }
  CHECK_THAT(codis::parse_duration("5x").message(), Catch::Contains("unknown unit \"x\""));
  CHECK_THAT(codis::parse_duration("-5s").message(), Catch::Contains("negative"));
  CHECK_THAT(codis::parse_duration("1us").message(), Catch::Contains("milliseconds"));

  CHECK(codis::format_duration(0ms) == "0");
  CHECK(codis::format_duration(250ms) == "250ms");
  CHECK(codis::format_duration(75s) == "75s");
  CHECK(codis::format_duration(30min) == "30m");
  CHECK(codis::format_duration(2h) == "2h");
}

TEST_CASE("sizes as Codis's bytesize", "[config]") {
  CHECK(*codis::parse_bytesize("128kb") == 128u << 10);
  CHECK(*codis::parse_bytesize("128KB") == 128u << 10);
  CHECK(*codis::parse_bytesize("64k") == 64u << 10);
  CHECK(*codis::parse_bytesize("512mb") == 512u << 20);
  CHECK(*codis::parse_bytesize("1gb") == 1ull << 30);
  CHECK(*codis::parse_bytesize("2T") == 2ull << 40);
  CHECK(*codis::parse_bytesize("1pb") == 1ull << 50);
  CHECK(*codis::parse_bytesize("4096") == 4096u);
  CHECK(*codis::parse_bytesize("10b") == 10u);
  CHECK(*codis::parse_bytesize("1.5mb") == 1572864u);
  CHECK(*codis::parse_bytesize(" 8 kb ") == 8192u);
  CHECK(*codis::parse_bytesize("0") == 0u);
  for (auto bad : {"", "kb", "-1kb", "12xb", "1.2.3mb", "1eb", "99999999pb", "1 k b"}) {
    INFO(bad);
    CHECK_FALSE(codis::parse_bytesize(bad).ok());
  }
  CHECK(codis::format_bytesize(0) == "0");
  CHECK(codis::format_bytesize(100) == "100");
  CHECK(codis::format_bytesize(128 << 10) == "128kb");
  CHECK(codis::format_bytesize(1ull << 30) == "1gb");
  CHECK(codis::format_bytesize(1536) == "1536");
}

TEST_CASE("defaults are Codis's", "[config]") {
  const ProxyConfig c;
  CHECK(c.product_name == "codis-demo");
  CHECK(c.admin_addr == "0.0.0.0:11080");
  CHECK(c.proto_type == "tcp4");
  CHECK(c.proxy_addr == "0.0.0.0:19000");
  CHECK(c.jodis_timeout == 20s);
  CHECK(c.proxy_max_clients == 1000);
  CHECK(c.proxy_max_offheap_size == 1ull << 30);
  CHECK(c.backend_ping_period == 5s);
  CHECK(c.backend_recv_bufsize == 128u << 10);
  CHECK(c.backend_max_pipeline == 20480);
  CHECK(c.backend_keepalive_period == 75s);
  CHECK(c.backend_number_databases == 16);
  CHECK(c.session_recv_timeout == 30min);
  CHECK(c.session_send_bufsize == 64u << 10);
  CHECK(c.session_max_pipeline == 10000);
  CHECK(c.metrics_report_period == 1s);
  CHECK(c.proxy_max_bulk_len == 512u << 20);
  CHECK(c.proxy_max_array_len == 1048576);
  CHECK(c.proxy_max_inline_len == 64u << 10);
  CHECK(c.proxy_max_client_memory == 1ull << 30);
  CHECK(c.slowlog_log_slower_than == 10ms);
  CHECK(codis::validate(c).ok());
}

TEST_CASE("the default file parses to the defaults", "[config]") {
  const std::string text = codis::default_proxy_config_text();
  auto c = codis::parse_proxy_config(text);
  INFO(c.message());
  REQUIRE(c.ok());
  CHECK(*c == ProxyConfig{});
  // Every key is in it, commented.
  const auto described = codis::describe(ProxyConfig{});
  for (const auto& [key, value] : described.items()) {
    CHECK_THAT(text, Catch::Contains("\n" + key + " = "));
  }
  CHECK_THAT(text, Catch::Contains("\nsession_auth = \"\""));
  CHECK_THAT(text, Catch::Contains("\nbackend_recv_bufsize = \"128kb\""));
  CHECK_THAT(text, Catch::Contains("\nsession_recv_timeout = \"30m\""));
  CHECK_THAT(text, Catch::Contains("# "));
  CHECK(codis::parse_proxy_config("").ok());
  CHECK(*codis::parse_proxy_config("") == ProxyConfig{});
}

TEST_CASE("Codis 3.2's proxy.toml is accepted", "[config]") {
  // The keys and value styles of Codis 3.2's shipped config, a few changed.
  const char* codis = R"(
product_name = "prod"
product_auth = "secret"
session_auth = "client-pass"
admin_addr = "10.0.0.5:11080"
proto_type = "tcp4"
proxy_addr = "10.0.0.5:19000"
jodis_name = "zookeeper"
jodis_addr = "zk1:2181,zk2:2181"
jodis_auth = ""
jodis_timeout = "20s"
jodis_compatible = false
proxy_datacenter = "dc1"
proxy_max_clients = 5000
proxy_max_offheap_size = "1024mb"
proxy_heap_placeholder = "256mb"
backend_ping_period = "5s"
backend_recv_bufsize = "128kb"
backend_recv_timeout = "30s"
backend_send_bufsize = "128kb"
backend_send_timeout = "30s"
backend_max_pipeline = 20480
backend_primary_only = true
backend_primary_parallel = 2
backend_replica_parallel = 1
backend_keepalive_period = "75s"
backend_number_databases = 1
session_recv_bufsize = "128kb"
session_recv_timeout = "30m"
session_send_bufsize = "64kb"
session_send_timeout = "30s"
session_max_pipeline = 1024
session_keepalive_period = "75s"
session_break_on_failure = false
metrics_report_server = ""
metrics_report_period = "1s"
metrics_report_influxdb_server = ""
metrics_report_influxdb_period = "1s"
metrics_report_influxdb_username = ""
metrics_report_influxdb_password = ""
metrics_report_influxdb_database = ""
metrics_report_statsd_server = ""
metrics_report_statsd_period = "1s"
metrics_report_statsd_prefix = ""
)";
  auto c = codis::parse_proxy_config(codis);
  INFO(c.message());
  REQUIRE(c.ok());
  CHECK(c->product_name == "prod");
  CHECK(c->product_auth == "secret");
  CHECK(c->session_auth == "client-pass");
  CHECK(c->jodis_addr == "zk1:2181,zk2:2181");
  CHECK(c->proxy_max_clients == 5000);
  CHECK(c->backend_primary_only);
  CHECK(c->backend_primary_parallel == 2);
  CHECK(c->backend_number_databases == 1);
  CHECK(c->session_max_pipeline == 1024);
  CHECK(c->proxy_max_bulk_len == 512u << 20);  // ours, not in the file: default

  // Integers for sizes and (Codis 3.1 style) seconds for durations.
  auto old = codis::parse_proxy_config("jodis_timeout = 10\nsession_recv_bufsize = 65536\n");
  REQUIRE(old.ok());
  CHECK(old->jodis_timeout == 10s);
  CHECK(old->session_recv_bufsize == 65536u);
}

TEST_CASE("errors name the line, the key and what is expected", "[config]") {
  CHECK(error_of("proxy_max_client_memory = \"100kb\"\n") ==
        "line 1: key 'proxy_max_client_memory': expected 0 (no limit) or at least \"1mb\", got 102400 bytes");
  CHECK(codis::parse_proxy_config("proxy_max_client_memory = 0\n").ok());
  CHECK(error_of("product_name = \"x\"\nno_such_key = 1\n") ==
        "line 2: unknown key 'no_such_key' (see --default-config for the accepted keys)");
  CHECK(error_of("\n\nproxy_max_clients = \"many\"") ==
        "line 3: key 'proxy_max_clients': expected an integer, got a string");
  CHECK(error_of("product_name = 5") == "line 1: key 'product_name': expected a string, got an integer");
  CHECK(error_of("backend_primary_only = \"yes\"") ==
        "line 1: key 'backend_primary_only': expected true or false, got a string");
  CHECK_THAT(error_of("backend_ping_period = \"5 seconds\""),
             Catch::StartsWith("line 1: key 'backend_ping_period': invalid duration \"5 seconds\""));
  CHECK_THAT(error_of("backend_ping_period = true"), Catch::Contains("expected a duration"));
  CHECK_THAT(error_of("session_recv_bufsize = \"12 bananas\""),
             Catch::StartsWith("line 1: key 'session_recv_bufsize': invalid size"));
  CHECK_THAT(error_of("session_recv_bufsize = -1"), Catch::Contains("expected a size >= 0"));
  CHECK(error_of("backend_number_databases = 0") ==
        "line 1: key 'backend_number_databases': expected a value >= 1 and <= 2147483647, got 0");
  CHECK_THAT(error_of("proxy_max_clients = 0"), Catch::Contains("key 'proxy_max_clients'"));
  CHECK_THAT(error_of("session_max_pipeline = 0"), Catch::Contains("key 'session_max_pipeline'"));
  CHECK_THAT(error_of("proxy_max_clients = 99999999999"), Catch::Contains("<= 2147483647"));
  CHECK(error_of("x = 1\nproxy_addr = \"0.0.0.0\"\n").find("line 1") == 0);
  CHECK(error_of("\nproxy_addr = \"0.0.0.0\"\n") ==
        "line 2: key 'proxy_addr': expected \"host:port\" (e.g. \"0.0.0.0:19000\"), got \"0.0.0.0\"");
  CHECK_THAT(error_of("admin_addr = \"localhost:99999\""), Catch::Contains("key 'admin_addr'"));
  CHECK_THAT(error_of("proto_type = \"udp\""), Catch::Contains("key 'proto_type'"));
  CHECK_THAT(error_of("product_name = \"\""), Catch::Contains("must not be empty"));
  CHECK_THAT(error_of("jodis_name = \"zookeeper\""), Catch::Contains("key 'jodis_addr'"));
  CHECK_THAT(error_of("jodis_name = \"consul\"\njodis_addr = \"x:1\""), Catch::Contains("line 1: key 'jodis_name'"));
  CHECK_THAT(error_of("[proxy]\nproduct_name = \"x\""), Catch::Contains("unknown key 'proxy'"));
  CHECK_THAT(error_of("product_name = \"x\"\nproduct_name = \"y\""), Catch::StartsWith("line 2"));
  CHECK_THAT(error_of("product_name = "), Catch::StartsWith("line 1, column") && Catch::Contains("invalid TOML"));
}

TEST_CASE("addresses", "[config]") {
  CHECK(codis::parse_proxy_config("proxy_addr = \":19000\"").ok());
  CHECK(codis::parse_proxy_config("proxy_addr = \"[::1]:19000\"\nproto_type = \"tcp6\"").ok());
  CHECK(codis::parse_proxy_config("proxy_addr = \"/tmp/codis.sock\"\nproto_type = \"unix\"").ok());
  CHECK_FALSE(codis::parse_proxy_config("proxy_addr = \"::1:19000\"").ok());
  CHECK_FALSE(codis::parse_proxy_config("proxy_addr = \"host:\"").ok());
  CHECK_FALSE(codis::parse_proxy_config("proxy_addr = \"host:12ab\"").ok());
  CHECK_FALSE(codis::parse_proxy_config("proxy_addr = \"\"\nproto_type = \"unix\"").ok());
}

TEST_CASE("validate() checks configs built in code", "[config]") {
  ProxyConfig c;
  c.session_max_pipeline = 0;
  auto st = codis::validate(c);
  REQUIRE_FALSE(st.ok());
  CHECK(st.message() == "key 'session_max_pipeline': expected a value >= 1 and <= 2147483647, got 0");
  c = ProxyConfig{};
  c.slowlog_log_slower_than = -1ms;
  CHECK_FALSE(codis::validate(c).ok());
}

TEST_CASE("describe lists keys and values, not secrets", "[config]") {
  ProxyConfig c;
  c.product_auth = "p";
  c.session_auth = "s";
  c.metrics_report_influxdb_password = "i";
  c.admin_auth = "a";
  c.metrics_auth = "m";
  c.backend_password = "b";
  const auto items = codis::describe(c);
  auto value = [&](const std::string& key) -> nlohmann::ordered_json {
    return items.contains(key) ? items[key] : nlohmann::ordered_json("<absent>");
  };
  CHECK(items.begin().key() == "product_name");
  CHECK(value("product_name") == "codis-demo");
  // The types of Codis's Go struct: timesize and bytesize as text, int and bool as JSON.
  CHECK(value("backend_recv_bufsize") == "128kb");
  CHECK(value("session_recv_timeout") == "30m");
  CHECK(value("proxy_max_clients") == 1000);
  CHECK(value("backend_primary_only") == false);
  CHECK(value("slowlog_log_slower_than") == "10ms");
  for (const char* k : {"proxy_max_clients", "backend_max_pipeline", "backend_primary_parallel",
                        "backend_replica_parallel", "backend_number_databases", "session_max_pipeline"}) {
    INFO(k);
    CHECK(value(k).is_number_integer());
  }
  for (const char* k : {"jodis_compatible", "backend_primary_only", "session_break_on_failure"}) {
    INFO(k);
    CHECK(value(k).is_boolean());
  }
  CHECK(value("product_auth") == "<absent>");
  CHECK(value("session_auth") == "<absent>");
  CHECK(value("metrics_report_influxdb_password") == "<absent>");
  CHECK(value("jodis_auth") == "<absent>");
  CHECK(value("admin_auth") == "<absent>");
  CHECK(value("metrics_auth") == "<absent>");
  CHECK(value("admin_compat_xauth") == false);
  CHECK(value("backend_user") == "codis-proxy");
  CHECK(value("backend_password") == "<absent>");
  CHECK(items.size() == 74 - 7);  // 43 Codis keys + 31 ours, minus 7 secrets
}

TEST_CASE("load_proxy_config reads a file and names it in errors", "[config]") {
  const std::string path = "/tmp/codis_test_config_" + std::to_string(::getpid()) + ".toml";
  {
    std::ofstream f(path);
    f << "product_name = \"from-file\"\nsession_max_pipeline = 0\n";
  }
  auto bad = codis::load_proxy_config(path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.message() == path + ": line 2: key 'session_max_pipeline': expected a value >= 1 and <= 2147483647, got 0");
  {
    std::ofstream f(path);
    f << "product_name = \"from-file\"\n";
  }
  auto ok = codis::load_proxy_config(path);
  REQUIRE(ok.ok());
  CHECK(ok->product_name == "from-file");
  std::remove(path.c_str());
  auto missing = codis::load_proxy_config(path);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.message(), Catch::StartsWith(path + ": cannot open"));
}
