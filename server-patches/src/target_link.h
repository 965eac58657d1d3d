// TargetLink: the connection from this server to migration targets, for the
// sync SLOTSMGRT* commands.
//
// The module's command handlers serialize keys on the main thread, block only
// the calling client, and submit() a MigrationRequest; one worker thread
// sends it over a cached blocking connection per target (AUTH and SELECT as
// needed, every socket operation bounded by the request's timeout), reads the
// replies and calls request->done on the worker thread (which unblocks the
// client; deleting the keys on the source happens back on the main thread).
// One worker and one connection per target keep requests to a target in
// submission order, so a later migration of a key never lands before an
// earlier one.
#pragma once

#include <string>

namespace codis::slots {

struct MigrationRequest {
  // Input.
  std::string host;
  int port = 0;
  int timeout_ms = 0;
  int db = 0;
  std::string password;  // sent with AUTH on a new connection when not empty
  std::string body;      // one RESP command (SLOTSRESTORE ...)
  // Output, set by the worker before done() is called.
  bool ok = false;
  std::string error;
  void (*done)(MigrationRequest*) = nullptr;
  void* owner = nullptr;
};

// Starts the worker thread (idempotent). Returns false if it cannot.
bool target_link_start();
// Hands req to the worker; req->done is called exactly once, on the worker.
void target_link_submit(MigrationRequest* req);

}  // namespace codis::slots
