#include "codis/logging.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace codis::log {
namespace {

std::optional<spdlog::level::level_enum> parse_level(std::string_view text) {
  std::string s(text);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "debug") return spdlog::level::debug;
  if (s == "info") return spdlog::level::info;
  if (s == "warn" || s == "warning") return spdlog::level::warn;
  if (s == "error") return spdlog::level::err;
  if (s == "off") return spdlog::level::off;
  return std::nullopt;
}

Status bad_level(std::string_view text) {
  return Status::Error("invalid log level \"" + std::string(text) +
                       "\": expected one of debug, info, warn, warning, error, off");
}

std::string_view codis_name(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
    case spdlog::level::debug: return "DEBUG";
    case spdlog::level::info: return "INFO";
    case spdlog::level::warn: return "WARN";
    case spdlog::level::err: return "ERROR";
    case spdlog::level::critical: return "FATAL";
    default: return "OFF";
  }
}

// "%*" in the pattern: the level as Codis writes it.
class CodisLevelFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const auto name = codis_name(msg.level);
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<CodisLevelFlag>(); }
};

}  // namespace

Status init(const std::string& file, std::string_view level) {
  const auto lvl = parse_level(level);
  if (!lvl) return bad_level(level);
  spdlog::sink_ptr sink;
  try {
    if (file.empty()) {
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    } else {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file, /*truncate=*/false);
    }
  } catch (const std::exception& e) {
    return Status::Error("cannot open log file " + file + ": " + e.what());
  }
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<CodisLevelFlag>('*').set_pattern("%Y/%m/%d %H:%M:%S.%e [%*] %v");
  auto logger = std::make_shared<spdlog::logger>("codis", std::move(sink));
  logger->set_formatter(std::move(formatter));
  logger->set_level(*lvl);
  // Operators tail these files; info and above are rare enough to flush each.
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return Status::Ok();
}

Status set_level(std::string_view level) {
  const auto lvl = parse_level(level);
  if (!lvl) return bad_level(level);
  spdlog::set_level(*lvl);
  return Status::Ok();
}

std::string level_name() { return std::string(codis_name(spdlog::get_level())); }

}  // namespace codis::log
