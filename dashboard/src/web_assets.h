// The operator UI (web-fe/, a Vite build) served by the dashboard: GET / is
// the bundle's index.html, GET /assets/<file> (and other top-level files of
// the bundle) its assets, next to the API routes. Files are read per request
// (the bundle is small), so rebuilding the UI needs no dashboard restart.
#pragma once

#include <string>
#include <vector>

#include "codis/http_server.h"

namespace codis::dashboard {

class WebAssets {
 public:
  // `dir` is the bundle's directory (with index.html); empty: no UI, and
  // GET / answers a page that says how to build it.
  explicit WebAssets(std::string dir, std::vector<std::string> searched = {});

  const std::string& dir() const { return dir_; }

  // Where the bundle is by default, in order: <binary dir>/../../web-fe/dist
  // (a build tree inside the source tree), <binary dir>/../share/codis/web-fe,
  // /usr/share/codis/web-fe.
  static std::vector<std::string> default_dirs(const std::string& argv0);
  // The first of `dirs` holding an index.html, or "".
  static std::string find(const std::vector<std::string>& dirs);

  // GET/HEAD of one path of the bundle: "" or "index.html" for the page,
  // "assets/<name>" or "<name>". Never leaves dir(): names with "/", "\",
  // a leading "." or a NUL are refused (404).
  http::Reply serve(const std::string& rel) const;

 private:
  http::Reply not_built() const;
  std::string dir_;
  std::vector<std::string> searched_;
};

// GET / and /assets/:file, and GET /:file (index.html and the bundle's other
// top-level files) as a fallback: every one-segment API path (/topom,
// /metrics) keeps its route, and a path that no route has (PUT /nope, also
// PUT /index.html) is 404 whatever the method, not 405.
void add_web_routes(http::Router& router, const WebAssets& assets);

}  // namespace codis::dashboard
