// The proxy's admin API: Codis 3.2's routes (pkg/proxy/proxy_api.go: paths,
// verbs, xauth rules, parameter and body errors) plus GET /metrics, bound to
// an AdminApi. The proxy serves it with an http::Server on its control
// thread (proxy.cpp); tests serve it over a fake AdminApi.
#pragma once

#include "codis/codis_api.h"

namespace codis::proxy {

class AdminApi;

// `api` must outlive the router and what is built from it.
rpc::Router make_proxy_router(AdminApi& api, rpc::Security security);

}  // namespace codis::proxy
