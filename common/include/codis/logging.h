// Process-wide logging set-up on spdlog, in Codis's format:
//   2026/11/21 16:20:46.123 [INFO] message
//
// main() calls init() once (--log FILE, --log-level L); the admin APIs'
// loglevel endpoints call set_level()/level_name(). Code that logs includes
// <spdlog/spdlog.h> itself and calls spdlog::info(...) etc. on the default
// logger that init() installs; spdlog stays out of this header.
#pragma once

#include <string>
#include <string_view>

#include "codis/status.h"

namespace codis::log {

// Logs to `file` (appending; empty = stderr) at `level`. May be called again
// to switch files or levels. Fails if the file cannot be opened or the level
// is not one set_level() accepts; the previous logger then stays in place.
Status init(const std::string& file, std::string_view level);

// Accepts debug, info, warn, warning, error and off, in any case (Codis
// writes INFO, WARN, ERROR, DEBUG). Anything else is an error naming them.
Status set_level(std::string_view level);

// The current level as Codis names it: "DEBUG", "INFO", "WARN", "ERROR" or
// "OFF".
std::string level_name();

}  // namespace codis::log
