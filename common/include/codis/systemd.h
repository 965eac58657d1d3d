// systemd's service notifications (the sd_notify protocol: one datagram of
// "KEY=value" lines to the socket named by $NOTIFY_SOCKET), for units with
// Type=notify and WatchdogSec= (deploy/systemd/). Without $NOTIFY_SOCKET
// (not started by systemd) everything here does nothing.
#pragma once

#include <chrono>
#include <string_view>

namespace codis::systemd {

// Sends `state` (e.g. "READY=1", "WATCHDOG=1", "STATUS=..."); false if it could not be sent.
bool notify(std::string_view state);

// How often to send WATCHDOG=1: half of $WATCHDOG_USEC when systemd asked for
// it (and $WATCHDOG_PID, if set, is this process); zero otherwise.
std::chrono::milliseconds watchdog_period();

}  // namespace codis::systemd
