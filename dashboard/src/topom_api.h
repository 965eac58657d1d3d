// The dashboard's HTTP routes (Codis 3.2 pkg/topom/topom_api.go paths, verbs
// and xauth rules, plus GET /metrics), bound to a Topom. main() serves them,
// with the web UI's routes (web_assets.h), on an http::Server.
#pragma once

#include <functional>

#include "codis/codis_api.h"

namespace codis::dashboard {

class Topom;

// on_shutdown runs after PUT /api/topom/shutdown has closed the topom (the
// reply is still sent); main() uses it to stop the server and exit.
// `security` says who may call what (codis_api.h).
rpc::Router make_topom_router(Topom& topom, std::function<void()> on_shutdown, rpc::Security security);

}  // namespace codis::dashboard
